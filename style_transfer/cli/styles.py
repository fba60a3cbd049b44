"""List the bundled styles and write a thumbnail sheet of them.

    python -m style_transfer styles                     # sheet: runs/style_transfer/styles.png
    python -m style_transfer styles --out styles.png

The images are procedural studies painted by ``python -m style_transfer.styles.paint``; any other
painting works too: ``make stylize STYLE=name STYLE_IMAGE=painting.jpg``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from shared.plotting import save_image_grid
from style_transfer.imageio import check_writable, read_image, resize_max_side
from style_transfer.styles import get_style, list_styles


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--out",
        type=Path,
        default=Path("runs/style_transfer/styles.png"),
        help="thumbnail sheet (default: runs/style_transfer/styles.png)",
    )
    p.add_argument("--thumb", type=int, default=256, help="thumbnail size in pixels")


def run(args: argparse.Namespace) -> int:
    out = check_writable(args.out)
    styles = [get_style(name) for name in list_styles()]
    for s in styles:
        model = f"trained model: {s.model_path.name}" if s.has_model else "no trained model"
        print(f"{s.name:10s} {s.description}  [{model}]")
    thumbs = [resize_max_side(read_image(s.image_path), args.thumb) for s in styles]
    save_image_grid(thumbs, out, titles=[s.name for s in styles])
    print(f"thumbnails: {out}")
    return 0
