"""A temporal loss for training a stylising network that does not flicker on video.

    from style_transfer.johnson.temporal_loss import random_motion, warp, temporal_loss
    motion = random_motion(photos.shape[0], photos.shape[-2:])  # a known move per photo
    moved = warp(photos, motion)                                # the "next frame"
    loss = temporal_loss(net(photos), net(moved), motion)       # 0 when the styles move along

No video is needed: the second frame of each pair is the still photo moved by a motion drawn
here, so the flow between the two frames is known exactly, and so are the pixels the second
frame shows that the first did not (those that come from outside the photo). A small camera
move (shift, rotation, zoom) plus a smooth random flow (a coarse random field enlarged
bicubically: local motion such as a turning head). The loss is the mean squared difference between
the stylised second frame and the stylised first moved by the same motion, over the pixels the
motion carries over: Lai et al.'s 2018 warping error, with the exact flow in place of an
estimated one, and in the same squared form.

A motion is a sampling grid (N, H, W, 2) in :func:`torch.nn.functional.grid_sample`'s
coordinates: pixel (y, x) of the moved frame shows the first frame at ``grid[:, y, x]``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F

MAX_SHIFT = 0.03  # of the frame's size, each way
MAX_ROTATION = 2.0  # degrees
MAX_ZOOM = 0.03  # relative
FLOW_PX = 2.0  # largest local displacement of the smooth flow, in pixels
FLOW_CELLS = 4  # the coarse field's cells per side: smooth at any frame size


def random_motion(
    n: int,
    size: Sequence[int],
    *,
    device: torch.device | str = "cpu",
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """``n`` random small motions for frames of ``size`` (H, W), as sampling grids."""
    h, w = int(size[0]), int(size[1])

    def uniform(*shape: int) -> torch.Tensor:  # in [-1, 1)
        return torch.rand(*shape, generator=generator).mul(2).sub(1)

    angle = uniform(n) * math.radians(MAX_ROTATION)
    zoom = 1 + uniform(n) * MAX_ZOOM
    shift = uniform(n, 2) * 2 * MAX_SHIFT  # grid units span 2 across the frame
    cos, sin = torch.cos(angle) / zoom, torch.sin(angle) / zoom
    theta = torch.stack(
        [torch.stack([cos, -sin, shift[:, 0]], 1), torch.stack([sin, cos, shift[:, 1]], 1)], 1
    )
    grid = F.affine_grid(theta, [n, 3, h, w], align_corners=False)
    coarse = uniform(n, 2, FLOW_CELLS, FLOW_CELLS)
    flow = F.interpolate(coarse, size=(h, w), mode="bicubic", align_corners=True)
    flow = flow.clamp(-1, 1) * FLOW_PX * 2 / torch.tensor([w, h]).view(1, 2, 1, 1)
    return (grid + flow.permute(0, 2, 3, 1)).to(device)


def warp(frames: torch.Tensor, motion: torch.Tensor) -> torch.Tensor:
    """``frames`` (N, C, H, W) moved by ``motion``; what comes from outside the frame is 0."""
    grid = motion.to(device=frames.device, dtype=frames.dtype)
    return F.grid_sample(frames, grid, mode="bilinear", padding_mode="zeros", align_corners=False)


def carried_over(motion: torch.Tensor) -> torch.Tensor:
    """(N, 1, H, W): 1 where the moved frame shows a pixel of the first one, else 0."""
    inside = (motion.abs() <= 1).all(dim=-1)
    return inside[:, None].to(motion.dtype)


def temporal_loss(first: torch.Tensor, second: torch.Tensor, motion: torch.Tensor) -> torch.Tensor:
    """Mean squared difference of ``second`` and ``first`` moved by ``motion``, over the pixels
    the motion carries over (computed in float32: a loss term, like the others)."""
    moved = warp(first.float(), motion.float())
    mask = carried_over(motion.float()).to(moved.device)
    squared = (moved - second.float()).pow(2) * mask
    return squared.sum() / (mask.sum() * first.shape[1]).clamp_min(1)
