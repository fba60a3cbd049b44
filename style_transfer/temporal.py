"""Motion between video frames: optical flow, warping, flicker (warping error) and stabilisation.

    from style_transfer.temporal import motion_between, warp, warping_error, Stabilizer
    motion = motion_between(previous_frame, frame)        # RGB uint8 input frames, t-1 and t
    error = warping_error(output, previous_output, motion)
    steady = Stabilizer(strength=0.5)(frame_out, previous_frame, frame, motion)

Flow is always computed on the *input* frames (the stylised ones are full of painted texture that
moves differently from the scene) with OpenCV's Farneback on grey copies at most 320 px wide,
forward and backward. A pixel's flow is trusted where the two agree (the occlusion test of
Sundaram et al. 2010, as in Ruder et al. 2016 and Lai et al. 2018) and its target is inside the
frame. The flicker measure is Lai et al.'s warping error: frame t-1 warped to t, the squared RGB
difference (values in [0, 1]) summed over channels, averaged over the trusted pixels.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

FLOW_SIDE = 320  # px, longer side of the grey frames the flow is computed on
PHOTOMETRIC_TOLERANCE = 0.08  # grey-level difference (of 1) at which a warp is no longer trusted


@dataclass(frozen=True)
class Motion:
    """Where each pixel of frame t was in frame t-1 (``map_x``, ``map_y``), and which to trust."""

    map_x: np.ndarray  # (H, W) float32
    map_y: np.ndarray
    valid: np.ndarray  # (H, W) float32 in {0, 1}: flow consistent forwards and backwards


def _grey(rgb: np.ndarray, scale: float) -> np.ndarray:
    grey = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
    if scale < 1.0:
        size = (max(1, round(rgb.shape[1] * scale)), max(1, round(rgb.shape[0] * scale)))
        grey = cv2.resize(grey, size, interpolation=cv2.INTER_AREA)
    return grey


def _flow(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Dense flow from grey ``a`` to grey ``b``: ``a[p]`` is seen at ``b[p + flow(p)]``."""
    return cv2.calcOpticalFlowFarneback(a, b, None, 0.5, 3, 15, 3, 5, 1.2, 0)


def _consistent(backward: np.ndarray, forward: np.ndarray) -> np.ndarray:
    """Sundaram et al.'s test: following the backward flow then the forward one returns home."""
    h, w = backward.shape[:2]
    gx, gy = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
    tx, ty = gx + backward[..., 0], gy + backward[..., 1]
    forward_there = cv2.remap(forward, tx, ty, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    round_trip = np.square(backward + forward_there).sum(-1)
    size = np.square(backward).sum(-1) + np.square(forward_there).sum(-1)
    inside = (tx >= 0) & (tx <= w - 1) & (ty >= 0) & (ty <= h - 1)
    return (round_trip <= 0.01 * size + 0.5) & inside


def motion_between(previous: np.ndarray, current: np.ndarray) -> Motion:
    """Flow from frame t (``current``) back to t-1 (``previous``), both HxWx3 uint8 RGB."""
    h, w = current.shape[:2]
    scale = min(1.0, FLOW_SIDE / max(h, w))
    prev_grey, cur_grey = _grey(previous, scale), _grey(current, scale)
    backward, forward = _flow(cur_grey, prev_grey), _flow(prev_grey, cur_grey)
    valid = _consistent(backward, forward).astype(np.float32)
    if scale < 1.0:  # flow in small-frame pixels -> full-frame pixels
        backward = cv2.resize(backward, (w, h), interpolation=cv2.INTER_LINEAR) / scale
        valid = (cv2.resize(valid, (w, h), interpolation=cv2.INTER_LINEAR) > 0.5).astype(np.float32)
    gx, gy = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
    return Motion(gx + backward[..., 0], gy + backward[..., 1], valid)


def warp(image: np.ndarray, motion: Motion) -> np.ndarray:
    """Frame t-1 (any dtype, HxWxC) moved to where its pixels are in frame t."""
    return cv2.remap(
        image, motion.map_x, motion.map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE
    )


def warping_error(current: np.ndarray, previous: np.ndarray, motion: Motion) -> float:
    """Lai et al. 2018: masked mean of the squared RGB distance between t and warped t-1."""
    diff = current.astype(np.float32) / 255 - warp(previous, motion).astype(np.float32) / 255
    n = motion.valid.sum()
    return float((np.square(diff).sum(-1) * motion.valid).sum() / n) if n else 0.0


class Stabilizer:
    """Blend each output frame with the previous (already steadied) one, moved along the flow.

    ``out_t <- out_t + strength * trust * (warp(out_{t-1}) - out_t)``: a running average along
    motion paths, so painted texture that flickers from frame to frame settles, while the trust
    (flow consistent both ways, and the warped *input* frame matching the real one) keeps
    disocclusions, cuts and wrong flow from leaving ghosts.
    """

    def __init__(self, strength: float) -> None:
        if not 0.0 <= strength < 1.0:
            raise ValueError(f"stabilisation strength must be in [0, 1), got {strength}")
        self.strength = strength
        self.previous: np.ndarray | None = None

    def __call__(
        self,
        output: np.ndarray,
        previous_in: np.ndarray | None,
        current_in: np.ndarray,
        motion: Motion | None,
    ) -> np.ndarray:
        if self.strength == 0.0 or self.previous is None or motion is None or previous_in is None:
            self.previous = output
            return output
        trust = motion.valid * _photometric_trust(previous_in, current_in, motion)
        carried = warp(self.previous, motion).astype(np.float32)
        blend = (self.strength * trust)[..., None]
        steady = output.astype(np.float32) * (1 - blend) + carried * blend
        self.previous = np.clip(np.rint(steady), 0, 255).astype(np.uint8)
        return self.previous


def _photometric_trust(
    previous_in: np.ndarray, current_in: np.ndarray, motion: Motion
) -> np.ndarray:
    moved = cv2.cvtColor(warp(previous_in, motion), cv2.COLOR_RGB2GRAY).astype(np.float32)
    actual = cv2.cvtColor(current_in, cv2.COLOR_RGB2GRAY).astype(np.float32)
    miss = np.abs(moved - actual) / 255
    return np.clip(1.0 - miss / PHOTOMETRIC_TOLERANCE, 0.0, 1.0)
