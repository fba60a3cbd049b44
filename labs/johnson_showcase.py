"""Redraw ``docs/johnson_showcase.jpg``: sample photos through each shipped Johnson model.

    python -m labs.johnson_showcase                  # the README's picture
    python -m labs.johnson_showcase --out sheet.png --styles starry wave

Run it after retraining a shipped model so that the README shows what the files do.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch

from shared.plotting import save_image_grid
from style_transfer.imageio import read_image
from style_transfer.styles import get_style
from style_transfer.stylize import stylize_image
from style_transfer.transformer_net import load_model

PHOTOS = ("chelsea", "astronaut", "coffee")
STYLES = ("starry", "wave", "mosaic")
OUT = Path(__file__).parent.parent / "docs" / "johnson_showcase.jpg"


def draw(out: Path, styles: tuple[str, ...] = STYLES, photos: tuple[str, ...] = PHOTOS) -> Path:
    """One row per photo: the photo, then each style's model applied to it at full size."""
    models = [load_model(get_style(name).model_path)[0] for name in styles]
    cells, titles = [], []
    with torch.inference_mode():
        for photo in photos:
            image = read_image(photo)
            cells.append(image)
            titles.append("photo")
            for name, model in zip(styles, models, strict=True):
                cells.append(stylize_image(model, image).clamp(0, 1))
                titles.append(name)
    return save_image_grid(cells, out, titles=titles, ncol=1 + len(styles))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m labs.johnson_showcase", description=__doc__)
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument("--styles", nargs="+", default=list(STYLES))
    parser.add_argument("--photos", nargs="+", default=list(PHOTOS))
    args = parser.parse_args(argv)
    print(draw(args.out, tuple(args.styles), tuple(args.photos)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
