"""Redraw ``docs/johnson_showcase.jpg``: sample photos through each shipped Johnson model.

    python -m labs.johnson_showcase                  # the README's picture
    python -m labs.johnson_showcase --out sheet.png --styles starry wave

Run it after retraining a shipped model so that the README shows what the files do.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import style_transfer
from shared.contact_sheet import save_image_grid
from style_transfer.images import read_photo

PHOTOS = ("chelsea", "astronaut", "coffee")
STYLES = ("starry", "wave", "mosaic")
OUT = Path(__file__).parent.parent / "docs" / "johnson_showcase.jpg"


def draw(out: Path, styles: tuple[str, ...] = STYLES, photos: tuple[str, ...] = PHOTOS) -> Path:
    """One row per photo: the photo, then each style's model applied to it at full size."""
    cells, titles = [], []
    for name in photos:
        photo = read_photo(name)
        cells.append(photo)
        titles.append("photo")
        for style in styles:
            cells.append(style_transfer.stylize(photo, style=style, method="johnson"))
            titles.append(style)
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
