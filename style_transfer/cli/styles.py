"""List the bundled and trained styles and write a thumbnail sheet of them.

    python -m style_transfer styles                     # sheet: runs/style_transfer/styles.png
    python -m style_transfer styles --out styles.png --thumb 128

The sheet shows each style's image and, for a style with a trained model, the sample photo
through that model. The bundled images are procedural studies (``python -m style_transfer
paint`` repaints them); any other painting works too: ``make stylize STYLE=name
STYLE_IMAGE=painting.jpg``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from shared.cli import add_device_argument, add_threads_argument, default_of, given
from style_transfer.styles.sheet import StyleSheet, draw_style_sheet


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--out", type=Path, help=f"thumbnail sheet (default: {default_of(StyleSheet, 'out')})"
    )
    p.add_argument(
        "--thumb",
        type=int,
        help=f"thumbnail size in pixels (default: {default_of(StyleSheet, 'thumb')})",
    )
    add_device_argument(p)
    add_threads_argument(p)


def run(args: argparse.Namespace) -> int:
    draw_style_sheet(StyleSheet(**given(args, "out", "thumb", "device", "threads")))
    return 0
