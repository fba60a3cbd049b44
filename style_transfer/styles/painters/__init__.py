"""The procedural painters of the bundled style images (deterministic: same pixels on every run).

    python -m style_transfer paint                  # rewrites starry.jpg, wave.jpg, mosaic.jpg
    python -m style_transfer paint --only starry --size 1024 --out /tmp

    from style_transfer.styles.painters import PAINTERS, paint_styles
    PAINTERS["wave"](256)                           # HxWx3 uint8

Famous paintings cannot be bundled, so these are studies in their manner: ``starry`` a swirling
night sky of flow-field brush strokes with star halos, a moon, a cypress and a village
(:mod:`.starry`); ``wave`` a woodblock-print study of a curling wave (:mod:`.wave`); ``mosaic`` a
stained-glass rose of Voronoi tiles and lead lines (:mod:`.mosaic`); the brush machinery they
share is :mod:`.brush`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from shared.errors import UserError
from style_transfer.images import write_image
from style_transfer.styles import STYLE_DIR, STYLE_SIDE
from style_transfer.styles.painters.mosaic import paint_mosaic
from style_transfer.styles.painters.starry import paint_starry
from style_transfer.styles.painters.wave import paint_wave

PAINTERS: dict[str, Callable[[int], np.ndarray]] = {
    "starry": paint_starry,
    "wave": paint_wave,
    "mosaic": paint_mosaic,
}
JPEG_QUALITY = 90  # keeps each bundled image near 100 KB
MIN_SIDE = 64  # px: smaller, the starry sky's details (stars, village windows) do not fit


def paint_styles(
    names: Sequence[str] | None = None, size: int = STYLE_SIDE, out_dir: Path = STYLE_DIR
) -> list[Path]:
    """Paint ``names`` (default: all) at ``size`` px into ``out_dir/<name>.jpg``."""
    unknown = sorted(set(names or ()) - set(PAINTERS))
    if unknown:
        raise UserError(f"no painter for {', '.join(unknown)}; painters: {', '.join(PAINTERS)}")
    if size < MIN_SIDE:
        raise UserError(f"size must be at least {MIN_SIDE} px, not {size}")
    return [
        write_image(PAINTERS[name](size), Path(out_dir) / f"{name}.jpg", quality=JPEG_QUALITY)
        for name in names or PAINTERS
    ]
