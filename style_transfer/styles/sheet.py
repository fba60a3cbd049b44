"""The ``styles`` command: every known style listed, and a sheet of their thumbnails.

    from style_transfer.styles.sheet import StyleSheet, draw_style_sheet
    draw_style_sheet(StyleSheet(out=Path("styles.png"), thumb=128))

The sheet's first row is the style images; when any style has a trained model, a second row shows
the sample photo through each model (a blank cell for a style without one), so the sheet says
what ``make stylize STYLE=<name>`` will look like before it runs.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from shared.contact_sheet import save_image_grid
from shared.device import DEFAULT_DEVICE, pick_device
from shared.runs import RUNS_ROOT
from shared.threads import cpu_threads
from style_transfer.images import (
    DEFAULT_CONTENT,
    check_writable,
    read_image,
    read_photo,
    resize_max_side,
    shrink,
)
from style_transfer.outputs import APP
from style_transfer.styles import Style, get_style, list_styles


@dataclass
class StyleSheet:
    """Where the sheet goes, its thumbnails' size, and where the models run."""

    out: Path = RUNS_ROOT / APP / "styles.png"
    thumb: int = 256  # px, longer side of each thumbnail
    device: str = DEFAULT_DEVICE
    threads: int | None = None  # None: the idle cores


def describe_style(style: Style) -> str:
    model = f"trained model: {style.model_path.name}" if style.has_model else "no trained model"
    return f"{style.name:10s} {style.description}  [{model}]"


def model_examples(styles: list[Style], thumb: int, device: torch.device) -> list[np.ndarray]:
    """The sample photo through each style's model, at thumbnail size (blank without a model)."""
    from style_transfer.johnson.infer import transform_image  # only when a model is there
    from style_transfer.johnson.model_file import load_model

    photo = shrink(read_photo(DEFAULT_CONTENT), thumb)
    cells = []
    for style in styles:
        if style.has_model:
            model, _ = load_model(style.model_path, device)
            cells.append(transform_image(model, photo))
        else:
            cells.append(np.full((8, 8, 3), 255, np.uint8))
    return cells


def draw_style_sheet(sheet: StyleSheet) -> Path:
    """Print one line per style and write the thumbnail sheet; returns its path."""
    out = check_writable(sheet.out)
    device = pick_device(sheet.device)
    styles = [get_style(name) for name in list_styles()]
    for style in styles:
        print(describe_style(style))
    cells = [resize_max_side(read_image(s.image_path), sheet.thumb) for s in styles]
    titles = [s.name for s in styles]
    if any(s.has_model for s in styles):
        with cpu_threads(sheet.threads):
            cells += model_examples(styles, sheet.thumb, device)
        titles += [f"{DEFAULT_CONTENT}: {s.name}" if s.has_model else "" for s in styles]
    save_image_grid(cells, out, titles=titles, ncol=len(styles))
    print(f"thumbnails: {out}")
    return out
