"""Brush machinery shared by the procedural painters: noise, flow fields, impasto strokes.

Strokes follow a unit vector field (streamlines traced for all strokes at once), each drawn as
a dark rim and a coloured core, with a height map kept alongside so the finished canvas can be
lit from the top left like thick paint.
"""

from __future__ import annotations

from collections.abc import Callable

import cv2
import numpy as np

Colour = tuple[int, int, int]


def fbm(rng: np.random.Generator, h: int, w: int, octaves: int = 4, base: int = 4) -> np.ndarray:
    """Smooth fractal noise in [0, 1] (sum of upsampled random grids)."""
    out = np.zeros((h, w), np.float32)
    for k in range(octaves):
        cells = base * 2**k
        grid = rng.random((cells + 1, cells + 1)).astype(np.float32)
        out += cv2.resize(grid, (w, h), interpolation=cv2.INTER_CUBIC) / 2**k
    out -= out.min()
    return out / max(out.max(), 1e-6)


def trace_streamlines(
    starts: np.ndarray, flow: np.ndarray, length: np.ndarray, step: float = 1.5
) -> list[np.ndarray]:
    """Follow the unit vector field ``flow`` (H, W, 2) from each start point, all at once."""
    h, w = flow.shape[:2]
    n_steps = int(length.max() / step) + 1
    pts = np.empty((n_steps, len(starts), 2), np.float32)
    pts[0] = starts
    for i in range(1, n_steps):
        xi = np.clip(pts[i - 1, :, 0].astype(int), 0, w - 1)
        yi = np.clip(pts[i - 1, :, 1].astype(int), 0, h - 1)
        pts[i] = pts[i - 1] + step * flow[yi, xi]
    counts = np.maximum((length / step).astype(int), 2)
    return [pts[: counts[j], j] for j in range(len(starts))]


def jitter_colour(rng: np.random.Generator, colour: Colour, amount: float = 12) -> Colour:
    c = np.clip(np.asarray(colour, np.float32) + rng.normal(0, amount, 3), 0, 255)
    return tuple(int(v) for v in c)


class Canvas:
    """An RGB canvas plus a paint-height map, so strokes can be lit like impasto at the end."""

    def __init__(self, h: int, w: int, ground: Colour) -> None:
        self.rgb = np.full((h, w, 3), ground, np.uint8)
        self.height = np.zeros((h, w), np.float32)

    def stroke(self, pts: np.ndarray, colour: Colour, width: int, rng: np.random.Generator) -> None:
        line = [np.round(pts).astype(np.int32).reshape(-1, 1, 2)]
        dark = tuple(int(c * 0.72) for c in colour)
        cv2.polylines(self.rgb, line, False, dark, width + 1, cv2.LINE_AA)
        cv2.polylines(self.rgb, line, False, colour, width, cv2.LINE_AA)
        # A ridge down the middle of each stroke: the bristle marks catch the light.
        cv2.polylines(self.height, line, False, float(rng.uniform(0.4, 0.7)), width + 1)
        cv2.polylines(self.height, line, False, float(rng.uniform(0.8, 1.0)), max(1, width // 2))

    def lit(self, strength: float = 0.35, weave: float = 0.05) -> np.ndarray:
        """Colour shaded by the height map (light from the top left) on a canvas weave."""
        height = cv2.GaussianBlur(self.height, (0, 0), 1.0)
        gy, gx = np.gradient(height)
        shade = 1.0 + strength * np.clip(-(gx + gy), -1, 1)
        h, w = height.shape
        yy, xx = np.mgrid[0:h, 0:w]
        shade *= 1.0 + weave * np.sin(xx * 1.9) * np.sin(yy * 1.9)
        return np.clip(self.rgb * shade[..., None], 0, 255).astype(np.uint8)


def paint_field(
    canvas: Canvas,
    rng: np.random.Generator,
    flow: np.ndarray,
    colour_at: Callable[[np.ndarray], list[Colour]],
    *,
    spacing: float,
    length: tuple[float, float],
    width: tuple[int, int],
    mask: np.ndarray | None = None,
) -> None:
    """Cover the canvas (or ``mask``) with strokes along ``flow``, in random order."""
    h, w = flow.shape[:2]
    gy, gx = np.mgrid[0:h:spacing, 0:w:spacing]
    starts = np.stack([gx.ravel(), gy.ravel()], 1).astype(np.float32)
    starts += rng.uniform(-spacing, spacing, starts.shape).astype(np.float32)
    starts = np.clip(starts, 0, [w - 1, h - 1])
    if mask is not None:
        starts = starts[mask[starts[:, 1].astype(int), starts[:, 0].astype(int)]]
    starts = starts[rng.permutation(len(starts))]
    lengths = rng.uniform(*length, len(starts))
    colours = colour_at(starts)
    for pts, colour in zip(trace_streamlines(starts, flow, lengths), colours, strict=True):
        canvas.stroke(pts, colour, int(rng.integers(width[0], width[1] + 1)), rng)


def unit(vx: np.ndarray, vy: np.ndarray) -> np.ndarray:
    norm = np.sqrt(vx**2 + vy**2) + 1e-6
    return np.stack([vx / norm, vy / norm], -1).astype(np.float32)


def vortex(
    xx: np.ndarray, yy: np.ndarray, cx: float, cy: float, radius: float, spin: float
) -> tuple[np.ndarray, np.ndarray]:
    """Tangential flow around (cx, cy), fading beyond ``radius``; spin > 0 is clockwise."""
    dx, dy = xx - cx, yy - cy
    r = np.sqrt(dx**2 + dy**2) + 1e-6
    fall = np.exp(-((r / radius) ** 2))
    return -dy / r * fall * spin, dx / r * fall * spin
