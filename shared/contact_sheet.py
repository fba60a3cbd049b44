"""Contact sheets: images side by side in a grid, each under its title, written with Pillow.

A sheet is the last file a stylise command writes, so it is drawn without matplotlib, whose
import and render would take longer than the network itself (about 0.45 s against 0.05 s for a
512 px photo). Each image is scaled to fit a square cell (smaller ones with nearest-neighbour,
so their pixels stay visible), centred on white, under its title wrapped to the cell's width.
"""

from __future__ import annotations

import textwrap
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageDraw, ImageFont

from shared.atomic import atomic_path

PIXELS_PER_INCH = 120  # a cell of ``cell_inches`` is this many pixels a side per inch
MARGIN = 6  # pixels around each cell
TITLE_SIZE = 15  # the titles' font size in pixels
WHITE = (255, 255, 255)


def to_hwc(image: torch.Tensor | np.ndarray) -> np.ndarray:
    """CHW float tensor in [0, 1] or HWC uint8/float array -> HWC float array in [0, 1]."""
    if isinstance(image, torch.Tensor):
        image = image.detach().float().cpu()
        if image.ndim == 3 and image.shape[0] in (1, 3):
            image = image.permute(1, 2, 0)
        image = image.numpy()
    image = np.asarray(image)
    if image.dtype == np.uint8:
        image = image.astype(np.float32) / 255
    if image.ndim == 3 and image.shape[2] == 1:
        image = image[..., 0]
    return np.clip(image, 0, 1)


def _fitted(image: torch.Tensor | np.ndarray, cell: int) -> Image.Image:
    pixels = (to_hwc(image) * 255 + 0.5).astype(np.uint8)
    picture = Image.fromarray(pixels).convert("RGB")
    scale = cell / max(picture.size)
    size = (max(1, round(picture.width * scale)), max(1, round(picture.height * scale)))
    resample = Image.Resampling.LANCZOS if scale < 1 else Image.Resampling.NEAREST
    return picture.resize(size, resample) if size != picture.size else picture


def _title_lines(title: str, font: ImageFont.ImageFont, width: int) -> list[str]:
    """``title`` wrapped so every line fits ``width`` pixels (a word too long is cut)."""
    chars = max(1, len(title))
    while chars > 1 and any(
        font.getlength(line) > width for line in textwrap.wrap(title, chars) or [""]
    ):
        chars -= 1
    return textwrap.wrap(title, chars) or [""]


def contact_sheet(
    images: Sequence[torch.Tensor | np.ndarray],
    *,
    titles: Sequence[str] | None = None,
    ncol: int | None = None,
    cell_inches: float = 3.0,
) -> Image.Image:
    """The sheet as a Pillow image: ``ncol`` columns (all in one row by default)."""
    if not images:
        raise ValueError("a contact sheet needs at least one image")
    cell = round(cell_inches * PIXELS_PER_INCH)
    ncol = ncol or len(images)
    font = ImageFont.load_default(size=TITLE_SIZE)
    line_height = TITLE_SIZE + 4
    pictures = [_fitted(image, cell) for image in images]
    lines = [_title_lines(t, font, cell) for t in titles] if titles else [[] for _ in images]
    rows = [range(start, min(start + ncol, len(images))) for start in range(0, len(images), ncol)]
    title_heights = [max(len(lines[k]) for k in row) * line_height for row in rows]
    heights = [
        title + max(pictures[k].height for k in row)
        for title, row in zip(title_heights, rows, strict=True)
    ]
    width = ncol * (cell + MARGIN) + MARGIN
    sheet = Image.new("RGB", (width, sum(heights) + MARGIN * (len(rows) + 1)), WHITE)
    draw = ImageDraw.Draw(sheet)
    top = MARGIN
    for row, height, title_height in zip(rows, heights, title_heights, strict=True):
        for column, k in enumerate(row):
            left = MARGIN + column * (cell + MARGIN)
            for n, line in enumerate(lines[k]):
                x = left + (cell - font.getlength(line)) / 2
                draw.text((x, top + n * line_height), line, fill=(0, 0, 0), font=font)
            picture = pictures[k]
            sheet.paste(picture, (left + (cell - picture.width) // 2, top + title_height))
        top += height + MARGIN
    return sheet


def save_image_grid(
    images: Sequence[torch.Tensor | np.ndarray],
    path: str | Path,
    *,
    titles: Sequence[str] | None = None,
    ncol: int | None = None,
    cell_inches: float = 3.0,
) -> Path:
    """:func:`contact_sheet`, written whole or not at all to ``path`` (its extension names the
    format: PNG, JPEG, ...)."""
    sheet = contact_sheet(images, titles=titles, ncol=ncol, cell_inches=cell_inches)
    with atomic_path(path) as tmp:
        # a quick PNG: a sheet is a look at results written beside it, and zlib's default effort
        # took 0.15 s of a 2 s stylize for a 1464x390 sheet (level 1: a fifth of that)
        kind = Image.registered_extensions()[Path(path).suffix.lower()]
        sheet.save(tmp, format=kind, quality=92, compress_level=1)
    return Path(path)
