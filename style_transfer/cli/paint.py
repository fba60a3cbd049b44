"""Paint the bundled style images procedurally (deterministic: the same pixels every run).

    python -m style_transfer paint                      # rewrites starry.jpg, wave.jpg, mosaic.jpg
    python -m style_transfer paint --only starry --size 1024 --out /tmp

Famous paintings cannot be bundled, so these are studies in their manner: ``starry`` a swirling
night sky of flow-field brush strokes, ``wave`` a woodblock-print study of a curling wave,
``mosaic`` a stained-glass rose window (:mod:`style_transfer.styles.painters`).
"""

from __future__ import annotations

import argparse
import inspect
from pathlib import Path

from shared.cli import given
from style_transfer.styles.painters import PAINTERS, paint_styles

_DEFAULTS = inspect.signature(paint_styles).parameters


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--only",
        dest="names",
        choices=list(PAINTERS),
        action="append",
        help="paint only this style (repeat for several; default: all)",
    )
    p.add_argument(
        "--size", type=int, help=f"longer side in px (default: {_DEFAULTS['size'].default})"
    )
    p.add_argument(
        "--out",
        dest="out_dir",
        type=Path,
        help=f"folder (default: {_DEFAULTS['out_dir'].default}, the bundled styles)",
    )


def run(args: argparse.Namespace) -> int:
    for path in paint_styles(**given(args, "names", "size", "out_dir")):
        print(f"{path} ({path.stat().st_size // 1024} KB)")
    return 0
