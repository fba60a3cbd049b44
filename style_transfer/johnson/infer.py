"""Johnson inference: a trained network over one photo, a list of photos of any sizes, a folder.

    from style_transfer.johnson.model_file import load_model
    from style_transfer.johnson.infer import transform_image, transform_images, transform_folder
    model, meta = load_model("starry.safetensors", device="cpu")
    out = transform_image(model, photo)       # HxWx3 uint8 -> HxWx3 uint8; (3,H,W) float -> same
    outs = transform_images(model, photos, batch_size=4)
    transform_folder(model, "photos/", "stylised/")

Batches: images of the same size run together; different sizes run one by one, because padding
them to a common size would change every instance-norm statistic and so the result. A batch that
would not fit in memory runs smaller, and an image that would not fit even alone runs in tiles
(:mod:`style_transfer.johnson.tiles`).
"""

from __future__ import annotations

import copy
import math
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
import torch
from torch import nn
from tqdm import tqdm

from shared.errors import UserError
from shared.image_files import list_images
from shared.precision import NAMES, faster, machine_key, remembered, resolve_precision
from style_transfer.color import recombine
from style_transfer.images import photo_size, read_photo, write_image
from style_transfer.johnson.net import MIN_SIDE, channels_last, to_inference
from style_transfer.johnson.tiles import (
    DEFAULT_OVERLAP,
    bytes_per_pixel,
    memory_budget,
    tile_side,
    transform_tiled,
)

BATCH_SIZE = 4  # photos per pass when they share a size (the memory budget may lower it)

ImageLike = np.ndarray | torch.Tensor


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


PROBE_SIDE = 256  # px: the check that bf16 pays on this model, large enough to be compute-bound


def choose_precision(model: nn.Module, name: str, device: torch.device) -> torch.dtype:
    """The dtype the network runs in for ``--precision name``; the model itself is converted by
    the caller (bf16 pays on a CPU only with bf16 weights, not under autocast). ``auto``'s check
    times one forward pass in each, remembered per machine and network widths."""

    def measure(dtype: torch.dtype) -> bool:
        x = channels_last(torch.rand(1, 3, PROBE_SIDE, PROBE_SIDE, device=device))
        low = copy.deepcopy(model).to(dtype)
        with torch.inference_mode():
            return faster(lambda: model(x), lambda: low(x.to(dtype)))

    def pays(dtype: torch.dtype) -> bool:
        widths = ",".join(str(p.shape[0]) for p in model.parameters() if p.ndim == 4)
        key = f"{machine_key(device)}; johnson {NAMES[dtype]} weights; widths {widths}"
        return remembered(key, lambda: measure(dtype))  # the copy only when it is measured

    return resolve_precision(name, device, pays)


def transform_image(
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
    return transform_images(model, [image], tile=tile, overlap=overlap, budget=budget)[0]


def transform_images(
    model: nn.Module,
    images: Sequence[ImageLike],
    *,
    batch_size: int = BATCH_SIZE,
    tile: int | None = None,
    overlap: int = DEFAULT_OVERLAP,
    budget: int | None = None,
    progress: bool = False,
    preserve_color: bool = False,
) -> list[ImageLike]:
    """Stylise ``images`` (arrays or tensors, any sizes), same-size ones ``batch_size`` at a time.

    Returns the results in input order, each of its input's size and type. The model runs in
    eval mode and channels_last (it stays channels_last; a training model gets its mode back).
    ``preserve_color``: each result keeps its photo's colours, the network's luminance only
    (:func:`style_transfer.color.recombine`).
    """
    training = model.training
    model = to_inference(model, _device_of(model))
    try:
        return _transform_images(
            model, images, batch_size, tile, overlap, budget, progress, preserve_color
        )
    finally:
        model.train(training)


def _transform_images(
    model: nn.Module,
    images: Sequence[ImageLike],
    batch_size: int,
    tile: int | None,
    overlap: int,
    budget: int | None,
    progress: bool,
    preserve_color: bool,
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
                    if preserve_color:
                        y = recombine(y, _to_batch(images[i], y.device)[0])
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
    device, dtype = _device_of(model), next(model.parameters()).dtype
    x = torch.cat([_to_batch(images[i], device) for i in batch]).to(dtype)
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
        [transform_tiled(model, xi[None], tile, overlap=overlap, budget=budget) for xi in x]
    )


# ----------------------------------------------------------------------------- folders


def transform_folder(
    model: nn.Module,
    source: str | Path,
    out_dir: str | Path,
    *,
    batch_size: int = BATCH_SIZE,
    tile: int | None = None,
    overlap: int = DEFAULT_OVERLAP,
    progress: bool = True,
    preserve_color: bool = False,
) -> list[Path]:
    """Stylise the images of a folder into ``out_dir`` under the same names.

    Same-size photos are batched; each is read only when its batch runs, so a folder of any
    length fits in memory. Every header is read first: an unreadable file fails before anything
    is written.
    """
    paths = list_images(source)
    out_dir = Path(out_dir)
    by_size: dict[tuple[int, int], list[Path]] = {}
    for p in paths:
        by_size.setdefault(photo_size(p), []).append(p)
    written: list[Path] = []
    bar = tqdm(total=len(paths), unit="img", disable=not progress, desc="stylise")
    for group in by_size.values():
        for i in range(0, len(group), batch_size):
            chunk = group[i : i + batch_size]
            photos = [read_photo(p) for p in chunk]
            outs = transform_images(
                model,
                photos,
                batch_size=batch_size,
                tile=tile,
                overlap=overlap,
                preserve_color=preserve_color,
            )
            for p, y in zip(chunk, outs, strict=True):
                written.append(write_image(y, out_dir / p.name))
            bar.update(len(chunk))
    bar.close()
    return written
