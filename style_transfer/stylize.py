"""Stylise photos with a trained network: one image, a list, a folder; any size, 4K included.

    from style_transfer.transformer_net import load_model
    from style_transfer.stylize import stylize_image, stylize_images, stylize_folder
    model, meta = load_model("starry.safetensors", device="cpu")
    out = stylize_image(model, photo)            # HxWx3 uint8 -> HxWx3 uint8; (3,H,W) float -> same
    outs = stylize_images(model, photos, batch_size=4)
    stylize_folder(model, "photos/", "stylised/")

Batches: images of the same size run together; different sizes run one by one, because padding
them to a common size would change every instance-norm statistic and so the result.

Size: a pass runs on the whole image when its estimated memory fits in half of what the device has
free (CUDA: free memory; CPU: MemAvailable), else in overlapping tiles whose side follows that
budget. Tiles share one set of instance-norm statistics recorded from a pass over the whole image:
statistics of each tile's own would give every tile its own colour cast (11/255 mean error against
the one pass, in the tests). Tile origins stay on the network's 4-pixel grid, so with the whole
image's statistics a tile computes exactly what the one pass computes away from its cut edges, and
the overlaps are blended with raised-cosine ramps (under 1/255 mean error, 48 px overlaps).
When even the statistics pass does not fit at full size it runs on a downscaled copy: the network
is not scale-invariant, so the result drifts from the one pass (about 6/255 at half size), but
uniformly: the tile borders are no worse than elsewhere.
"""

from __future__ import annotations

import contextlib
import math
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image, ImageOps, UnidentifiedImageError
from torch import nn
from tqdm import tqdm

from shared.atomic import atomic_path
from shared.errors import UserError
from style_transfer.transformer_net import (
    MIN_SIDE,
    InstanceNorm,
    TransformerNet,
    channels_last,
    to_inference,
)

MEMORY_FRACTION = 0.5  # of the free memory a pass may plan to use: room for the rest of the process
DEFAULT_OVERLAP = 64  # px on each shared tile edge; the receptive field is 109 px wide
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff")

ImageLike = np.ndarray | torch.Tensor


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
    norms = _norm_layers(model)
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
    norms = _norm_layers(model)
    try:
        for norm, s in zip(norms, stats, strict=True):
            norm.shared_stats = s
        yield
    finally:
        for norm in norms:
            norm.shared_stats = None


def _norm_layers(model: nn.Module) -> list[InstanceNorm]:
    return [m for m in model.modules() if isinstance(m, InstanceNorm)]


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


def stylize_tiled(
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
        return _stylize_tiled(
            model, x, tile, overlap, budget or memory_budget(x.device), share_statistics
        )


def _stylize_tiled(
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


# ----------------------------------------------------------------------------- images


def _to_batch(image: ImageLike, device: torch.device) -> torch.Tensor:
    """HxWx3 uint8 array or (3, H, W) float tensor -> (1, 3, H, W) float on ``device``."""
    if isinstance(image, np.ndarray):
        if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
            raise ValueError(f"expected an HxWx3 uint8 RGB array, got {image.dtype} {image.shape}")
        x = torch.tensor(image, device=device).permute(2, 0, 1).float() / 255
    elif isinstance(image, torch.Tensor) and image.ndim == 3 and image.shape[0] == 3:
        x = image.to(device=device, dtype=torch.float32)
    else:
        raise ValueError(f"expected an HxWx3 uint8 array or a (3, H, W) tensor, got {type(image)}")
    if min(x.shape[-2:]) < MIN_SIDE:
        raise UserError(f"image {x.shape[-2]}x{x.shape[-1]} is too small: at least {MIN_SIDE} px")
    return x[None]


def _from_batch(y: torch.Tensor, like: ImageLike) -> ImageLike:
    if isinstance(like, np.ndarray):
        return y.mul(255).round_().clamp_(0, 255).byte().permute(1, 2, 0).cpu().numpy()
    return y.to(like.device).contiguous()


def _device_of(model: nn.Module) -> torch.device:
    return next(model.parameters()).device


def stylize_image(
    model: nn.Module,
    image: ImageLike,
    *,
    tile: int | None = None,
    overlap: int = DEFAULT_OVERLAP,
    budget: int | None = None,
) -> ImageLike:
    """Stylise one image at its own size, in one pass when it fits, else in tiles.

    ``tile`` forces tiling at that side (a multiple of 4); ``budget`` (bytes) replaces the
    device's free memory in the plan.
    """
    return stylize_images(model, [image], tile=tile, overlap=overlap, budget=budget)[0]


def stylize_images(
    model: nn.Module,
    images: Sequence[ImageLike],
    *,
    batch_size: int = 4,
    tile: int | None = None,
    overlap: int = DEFAULT_OVERLAP,
    budget: int | None = None,
    progress: bool = False,
) -> list[ImageLike]:
    """Stylise ``images`` (arrays or tensors, any sizes), same-size ones ``batch_size`` at a time.

    Returns the results in input order, each of its input's size and type. The model runs in
    eval mode and channels_last (it stays channels_last; a training model gets its mode back).
    """
    training = model.training
    model = to_inference(model, _device_of(model))
    try:
        return _stylize_images(model, images, batch_size, tile, overlap, budget, progress)
    finally:
        model.train(training)


def _stylize_images(
    model: nn.Module,
    images: Sequence[ImageLike],
    batch_size: int,
    tile: int | None,
    overlap: int,
    budget: int | None,
    progress: bool,
) -> list[ImageLike]:
    device = _device_of(model)
    results: list[ImageLike | None] = [None] * len(images)
    by_size: dict[tuple[int, ...], list[int]] = {}
    for i, image in enumerate(images):
        by_size.setdefault(tuple(_spatial_size(image)), []).append(i)
    bar = tqdm(total=len(images), unit="img", disable=not progress)
    with torch.inference_mode():
        for size, indices in by_size.items():
            for batch in _batches(model, indices, size, batch_size, tile, budget, device):
                for i, y in zip(
                    batch, _run(model, images, batch, tile, overlap, budget), strict=True
                ):
                    results[i] = _from_batch(y, images[i])
                bar.update(len(batch))
    bar.close()
    return results  # type: ignore[return-value]


def _spatial_size(image: ImageLike) -> tuple[int, int]:
    return tuple(image.shape[:2]) if isinstance(image, np.ndarray) else tuple(image.shape[-2:])


def _batches(
    model: nn.Module,
    indices: list[int],
    size: tuple[int, ...],
    batch_size: int,
    tile: int | None,
    budget: int | None,
    device: torch.device,
) -> Iterator[list[int]]:
    pixels = math.ceil(size[0] / 4) * 4 * math.ceil(size[1] / 4) * 4
    fits = (budget or memory_budget(device)) // (bytes_per_pixel(model) * pixels)
    per_batch = 1 if tile else max(1, min(batch_size, fits))
    for i in range(0, len(indices), per_batch):
        yield indices[i : i + per_batch]


def _run(
    model: nn.Module,
    images: Sequence[ImageLike],
    batch: list[int],
    tile: int | None,
    overlap: int,
    budget: int | None,
) -> torch.Tensor:
    device = _device_of(model)
    x = torch.cat([_to_batch(images[i], device) for i in batch])
    pixels = x.shape[-2] * x.shape[-1]
    budget = budget or memory_budget(device)
    if tile is None and bytes_per_pixel(model) * pixels * len(batch) > budget:
        tile = tile_side(model, budget, overlap)
    if tile is None:
        try:
            return model(channels_last(x)).float()
        except torch.OutOfMemoryError:  # the estimate was optimistic on this device: go tiled
            torch.cuda.empty_cache()
            tile = tile_side(model, budget // 2, overlap)
    return torch.cat(
        [stylize_tiled(model, xi[None], tile, overlap=overlap, budget=budget) for xi in x]
    )


# ----------------------------------------------------------------------------- files


def list_images(source: str | Path | Sequence[str | Path]) -> list[Path]:
    """A folder's images (sorted), or the given list of files; missing files raise UserError."""
    if isinstance(source, (str, Path)) and Path(source).is_dir():
        paths = sorted(p for p in Path(source).iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
        if not paths:
            raise UserError(f"no images ({', '.join(IMAGE_SUFFIXES)}) in {source}")
        return paths
    paths = [Path(p) for p in ([source] if isinstance(source, (str, Path)) else source)]
    missing = [str(p) for p in paths if not p.is_file()]
    if missing:
        raise UserError(f"image not found: {missing[0]}")
    return paths


def read_rgb(path: Path) -> np.ndarray:
    """HxWx3 uint8 RGB, EXIF orientation applied; unreadable files raise UserError."""
    try:
        with Image.open(path) as img:
            return np.asarray(ImageOps.exif_transpose(img).convert("RGB"))
    except (UnidentifiedImageError, OSError, ValueError) as exc:
        raise UserError(f"cannot read image {path}: {exc}") from None


def write_rgb(array: np.ndarray, path: Path) -> Path:
    """Save atomically: a temporary name in the same folder, then an atomic rename."""
    options = {"quality": 95} if path.suffix.lower() in (".jpg", ".jpeg") else {}
    with atomic_path(path) as tmp:
        Image.fromarray(array).save(tmp, **options)
    return path


def stylize_folder(
    model: nn.Module,
    source: str | Path | Sequence[str | Path],
    out_dir: str | Path,
    *,
    batch_size: int = 4,
    tile: int | None = None,
    overlap: int = DEFAULT_OVERLAP,
    progress: bool = True,
) -> list[Path]:
    """Stylise a folder (or a list) of image files into ``out_dir`` under the same names.

    Same-size photos are batched; each is read only when its batch runs, so a folder of any
    length fits in memory.
    """
    paths = list_images(source)
    out_dir = Path(out_dir)
    by_size: dict[tuple[int, int], list[Path]] = {}
    for p in paths:
        by_size.setdefault(_header_size(p), []).append(p)
    written: list[Path] = []
    bar = tqdm(total=len(paths), unit="img", disable=not progress, desc="stylise")
    for group in by_size.values():
        for i in range(0, len(group), batch_size):
            chunk = group[i : i + batch_size]
            photos = [read_rgb(p) for p in chunk]
            outs = stylize_images(model, photos, batch_size=batch_size, tile=tile, overlap=overlap)
            for p, y in zip(chunk, outs, strict=True):
                written.append(write_rgb(y, out_dir / p.name))
            bar.update(len(chunk))
    bar.close()
    return written


def _header_size(path: Path) -> tuple[int, int]:
    """(height, width) after EXIF rotation, read from the header without decoding pixels."""
    try:
        with Image.open(path) as img:
            w, h = img.size
            rotated = img.getexif().get(0x0112, 1) in (5, 6, 7, 8)
    except (UnidentifiedImageError, OSError, ValueError) as exc:
        raise UserError(f"cannot read image {path}: {exc}") from None
    return (w, h) if rotated else (h, w)
