"""Johnson inference at any size: the memory budget, and tiles that share instance-norm statistics.

    from style_transfer.johnson.tiles import memory_budget, transform_tiled
    y = transform_tiled(model, x, tile=512)      # (1, 3, H, W) -> (1, 3, H, W), tile by tile

A pass runs on the whole image when its estimated memory fits in half of what the device has free
(CUDA: free memory; CPU: MemAvailable), else in overlapping tiles whose side follows that budget
(:mod:`style_transfer.johnson.infer` decides). Tiles share one set of instance-norm statistics
recorded from a pass over the whole image: statistics of each tile's own would give every tile its
own colour cast (11/255 mean error against the one pass, in the tests). Tile origins stay on the
network's 4-pixel grid, so with the whole image's statistics a tile computes exactly what the one
pass computes away from its cut edges, and the overlaps are blended with raised-cosine ramps
(under 1/255 mean error, 48 px overlaps). When even the statistics pass does not fit at full size
it runs on a downscaled copy: the network is not scale-invariant, so the result drifts from the
one pass (about 6/255 at half size), but uniformly: the tile borders are no worse than elsewhere.
"""

from __future__ import annotations

import contextlib
import math
import os
from collections.abc import Iterator
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from shared.errors import UserError
from style_transfer.johnson.net import (
    MIN_SIDE,
    TransformerNet,
    channels_last,
    norm_layers,
)

MEMORY_FRACTION = 0.5  # of the free memory a pass may plan to use: room for the rest of the process
DEFAULT_OVERLAP = 64  # px on each shared tile edge; the receptive field is 109 px wide


# ----------------------------------------------------------------------------- memory


def available_memory(device: torch.device | str) -> int:
    """Bytes free for a new allocation on ``device`` (CUDA: free + cached; CPU: MemAvailable)."""
    device = torch.device(device)
    if device.type == "cuda":
        free, _ = torch.cuda.mem_get_info(device)
        return free + torch.cuda.memory_reserved(device) - torch.cuda.memory_allocated(device)
    if device.type == "mps" and hasattr(torch.mps, "recommended_max_memory"):
        return torch.mps.recommended_max_memory() - torch.mps.driver_allocated_memory()
    return _host_available_memory()


def _host_available_memory() -> int:
    with contextlib.suppress(OSError, ValueError), open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")


def memory_budget(device: torch.device | str) -> int:
    return int(available_memory(device) * MEMORY_FRACTION)


def bytes_per_pixel(model: nn.Module) -> int:
    own = getattr(model, "peak_bytes_per_pixel", None)  # any photo-to-photo network's estimate
    if own is not None:
        return own()
    net = next((m for m in model.modules() if isinstance(m, TransformerNet)), None)
    return (
        net.peak_bytes_per_pixel() if net is not None else TransformerNet().peak_bytes_per_pixel()
    )


def tile_side(model: nn.Module, budget: int, overlap: int = DEFAULT_OVERLAP) -> int:
    """Largest square tile (multiple of 4) whose pass fits in ``budget`` bytes."""
    side = int(math.sqrt(budget / bytes_per_pixel(model))) // 4 * 4
    if side < 2 * overlap + 4 * MIN_SIDE:
        raise UserError(
            f"not enough memory to stylise even a {2 * overlap + 4 * MIN_SIDE} px tile "
            f"({budget / 2**20:.0f} MiB available)"
        )
    return side


# ----------------------------------------------------------------------------- statistics


def record_statistics(model: nn.Module, x: torch.Tensor) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """Per-channel (mean, var) of every instance-norm layer, pooled over all images of ``x``."""
    norms = norm_layers(model)
    try:
        for norm in norms:
            norm.record = True
        model(x)
        return [norm.recorded for norm in norms]  # type: ignore[misc]
    finally:
        for norm in norms:
            norm.record, norm.recorded = False, None


@contextlib.contextmanager
def shared_statistics(
    model: nn.Module, stats: list[tuple[torch.Tensor, torch.Tensor]]
) -> Iterator[None]:
    """Within the block every instance-norm layer normalises with ``stats``, not its input's."""
    norms = norm_layers(model)
    try:
        for norm, s in zip(norms, stats, strict=True):
            norm.shared_stats = s
        yield
    finally:
        for norm in norms:
            norm.shared_stats = None


# ----------------------------------------------------------------------------- tiling


@dataclass(frozen=True)
class Tile:
    top: int
    left: int
    height: int
    width: int


def tile_starts(length: int, tile: int, overlap: int) -> list[int]:
    """Starts on the 4-pixel grid covering ``length`` (a multiple of 4) with ``tile`` windows."""
    if length <= tile:
        return [0]
    step = max(4, (tile - overlap) // 4 * 4)
    starts = list(range(0, length - tile, step))
    return [*starts, length - tile]


def plan_tiles(height: int, width: int, tile: int, overlap: int) -> list[Tile]:
    return [
        Tile(top, left, min(tile, height), min(tile, width))
        for top in tile_starts(height, tile, overlap)
        for left in tile_starts(width, tile, overlap)
    ]


def _ramp(length: int, overlap_before: int, overlap_after: int) -> torch.Tensor:
    """1-D blend weights: raised cosine up over the leading overlap, down over the trailing one.

    Weights are never zero, and the pixels next to a tile's cut edge (the least accurate: the
    network saw reflected context there) get almost none.
    """
    w = torch.ones(length, dtype=torch.float64)
    for n, at_end in ((overlap_before, False), (overlap_after, True)):
        if n > 0:
            rise = 0.5 - 0.5 * torch.cos(math.pi * (torch.arange(n, dtype=torch.float64) + 0.5) / n)
            sl = slice(length - n, None) if at_end else slice(0, n)
            w[sl] = torch.minimum(w[sl], rise.flip(0) if at_end else rise)
    return w.float()


def _window(t: Tile, height: int, width: int, overlap: int) -> torch.Tensor:
    top = overlap if t.top > 0 else 0
    bottom = overlap if t.top + t.height < height else 0
    left = overlap if t.left > 0 else 0
    right = overlap if t.left + t.width < width else 0
    return _ramp(t.height, top, bottom)[:, None] * _ramp(t.width, left, right)[None, :]


def transform_tiled(
    model: nn.Module,
    x: torch.Tensor,
    tile: int,
    *,
    overlap: int = DEFAULT_OVERLAP,
    budget: int | None = None,
    share_statistics: bool = True,
) -> torch.Tensor:
    """(1, 3, H, W) -> (1, 3, H, W) in overlapping ``tile`` x ``tile`` pieces, blended.

    ``budget`` (bytes) bounds the statistics pass and how many tiles run at once; the whole image
    is used for the statistics when it fits, else a downscaled copy. ``share_statistics=False``
    shows the trap: every tile normalised on its own.
    """
    if tile % 4 or overlap % 4 or tile <= overlap:
        raise ValueError(
            f"tile ({tile}) and overlap ({overlap}) must be multiples of 4, tile > overlap"
        )
    with torch.inference_mode():
        return _transform_tiled(
            model, x, tile, overlap, budget or memory_budget(x.device), share_statistics
        )


def _transform_tiled(
    model: nn.Module, x: torch.Tensor, tile: int, overlap: int, budget: int, share: bool
) -> torch.Tensor:
    h, w = x.shape[-2:]
    x = F.pad(x, (0, (-w) % 4, 0, (-h) % 4), mode="reflect")  # as the network pads a whole image
    stats = _whole_image_statistics(model, x, budget) if share else None
    tiles = plan_tiles(x.shape[-2], x.shape[-1], tile, overlap)
    per_batch = max(1, budget // (bytes_per_pixel(model) * tile * tile))
    out = torch.zeros(3, *x.shape[-2:], device=x.device)
    weight = torch.zeros(1, *x.shape[-2:], device=x.device)
    with shared_statistics(model, stats) if stats else contextlib.nullcontext():
        for i in range(0, len(tiles), per_batch):
            _blend_tiles(model, x, tiles[i : i + per_batch], overlap, out, weight)
    return (out / weight)[None, :, :h, :w]


def _whole_image_statistics(
    model: nn.Module, x: torch.Tensor, budget: int
) -> list[tuple[torch.Tensor, torch.Tensor]]:
    h, w = x.shape[-2:]
    scale = min(1.0, math.sqrt(budget / (bytes_per_pixel(model) * h * w)))
    if scale < 1.0:
        size = (max(MIN_SIDE, round(h * scale)), max(MIN_SIDE, round(w * scale)))
        x = F.interpolate(x, size=size, mode="bilinear", antialias=True, align_corners=False)
    return record_statistics(model, channels_last(x))


def _blend_tiles(
    model: nn.Module,
    x: torch.Tensor,
    tiles: list[Tile],
    overlap: int,
    out: torch.Tensor,
    weight: torch.Tensor,
) -> None:
    # every tile has one shape: the last one along each axis is aligned to the far edge
    crops = [x[0, :, t.top : t.top + t.height, t.left : t.left + t.width] for t in tiles]
    styled = model(channels_last(torch.stack(crops))).float()
    for t, y in zip(tiles, styled, strict=True):
        win = _window(t, *x.shape[-2:], overlap).to(x.device)
        out[:, t.top : t.top + t.height, t.left : t.left + t.width] += y * win
        weight[:, t.top : t.top + t.height, t.left : t.left + t.width] += win
