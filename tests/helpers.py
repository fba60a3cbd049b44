"""Small things several test modules share: real photos from scikit-image, tiny tensors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import skimage


def skimage_data_dir() -> Path:
    return Path(skimage.__file__).parent / "data"


def photo(name: str) -> np.ndarray:
    """A real photo shipped with scikit-image (``coffee``, ``retina``...) as HxWx3 uint8."""
    import skimage.data

    return getattr(skimage.data, name)()
