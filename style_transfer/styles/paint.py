"""Paint the bundled style images procedurally (deterministic: same pixels on every run).

    python -m style_transfer.styles.paint            # rewrites starry.jpg, wave.jpg, mosaic.jpg
    python -m style_transfer.styles.paint --only starry --size 512

Famous paintings cannot be bundled, so these are studies in their manner:
``starry`` a swirling night sky of flow-field brush strokes with star halos, a moon, a cypress and
a village; ``wave`` a woodblock-print study of a curling wave; ``mosaic`` a stained-glass rose of
Voronoi tiles and lead lines.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Sequence
from pathlib import Path

import cv2
import numpy as np

from shared.atomic import atomic_path
from style_transfer.styles import STYLE_DIR
from style_transfer.styles.mosaic import paint_mosaic
from style_transfer.styles.starry import paint_starry
from style_transfer.styles.wave import paint_wave

PAINTERS: dict[str, Callable[..., np.ndarray]] = {
    "starry": paint_starry,
    "wave": paint_wave,
    "mosaic": paint_mosaic,
}


def save_jpeg(rgb: np.ndarray, path: Path, quality: int = 90) -> Path:
    """Write atomically: a temp name, then a rename over ``path``."""
    bgr = cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)
    with atomic_path(path) as tmp:
        if not cv2.imwrite(str(tmp), bgr, [cv2.IMWRITE_JPEG_QUALITY, quality]):
            raise OSError(f"cannot write {path}")
    return path


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m style_transfer.styles.paint",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--only", choices=sorted(PAINTERS), action="append")
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("--out", type=Path, default=STYLE_DIR)
    args = parser.parse_args(argv)
    for name in args.only or PAINTERS:
        path = save_jpeg(PAINTERS[name](args.size), args.out / f"{name}.jpg")
        print(f"{path} ({path.stat().st_size // 1024} KB)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
