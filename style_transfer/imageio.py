"""Images in and out: RGB float tensors in [0, 1], aspect-keeping resizes, atomic saves.

    from style_transfer.imageio import read_image, resize_max_side, save_image
    photo = read_image("astronaut")            # a bundled sample name or a path; (3, H, W)
    photo = resize_max_side(photo, 512)        # longer side 512 px, aspect kept
    save_image(photo, "out/photo.png")         # temp file + os.replace: never half-written

Sample content photos come from scikit-image's data module, so they need no download.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image, UnidentifiedImageError

from shared.atomic import atomic_path
from shared.errors import UserError

SAVE_FORMATS = {".png": "PNG", ".jpg": "JPEG", ".jpeg": "JPEG", ".webp": "WEBP", ".bmp": "BMP"}


def _skimage(name: str) -> Callable[[], np.ndarray]:
    def load() -> np.ndarray:
        from skimage import data

        return getattr(data, name)()

    return load


SAMPLE_PHOTOS: dict[str, Callable[[], np.ndarray]] = {
    name: _skimage(name) for name in ("astronaut", "chelsea", "coffee", "rocket")
}
DEFAULT_CONTENT = "chelsea"


def to_tensor(array: np.ndarray) -> torch.Tensor:
    """HWC uint8 (or HW grey) array -> (3, H, W) float32 tensor in [0, 1]."""
    if array.ndim == 2:
        array = np.stack([array] * 3, axis=-1)
    # np.array copies: PIL hands out read-only buffers, which torch refuses to wrap.
    return torch.from_numpy(np.array(array[..., :3])).permute(2, 0, 1).contiguous().float() / 255


def to_uint8(image: torch.Tensor) -> np.ndarray:
    """(3, H, W) or (1, 3, H, W) tensor in [0, 1] -> HWC uint8 array (rounded, clipped)."""
    if image.ndim == 4:
        image = image[0]
    array = image.detach().float().clamp(0, 1).mul(255).round().byte().cpu()
    return array.permute(1, 2, 0).numpy()


def read_image(source: str | Path) -> torch.Tensor:
    """Load ``source`` (a sample photo name or an image path) as a (3, H, W) tensor in [0, 1].

    Raises :class:`UserError` for a missing or unreadable file.
    """
    if str(source) in SAMPLE_PHOTOS:
        return to_tensor(SAMPLE_PHOTOS[str(source)]())
    path = Path(source)
    if not path.is_file():
        samples = ", ".join(SAMPLE_PHOTOS)
        raise UserError(f"image not found: {path} (or use a sample photo: {samples})")
    try:
        with Image.open(path) as img:
            return to_tensor(np.asarray(img.convert("RGB")))
    except (UnidentifiedImageError, OSError, ValueError) as exc:
        raise UserError(f"cannot read image {path}: {exc}") from None


def fit_size(height: int, width: int, max_side: int) -> tuple[int, int]:
    """(h, w) scaled so the longer side is ``max_side``, aspect kept, each side >= 1."""
    scale = max_side / max(height, width)
    return max(1, round(height * scale)), max(1, round(width * scale))


def resize(image: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Resize a (3, H, W) or (N, 3, H, W) tensor; antialiased when shrinking, so no aliasing."""
    batched = image.ndim == 4
    x = image if batched else image.unsqueeze(0)
    if tuple(x.shape[-2:]) != tuple(size):
        x = F.interpolate(x, size=size, mode="bicubic", align_corners=False, antialias=True)
        x = x.clamp(0, 1)
    return x if batched else x[0]


def resize_max_side(image: torch.Tensor, max_side: int) -> torch.Tensor:
    """Resize so the longer side is ``max_side`` pixels, keeping the aspect ratio."""
    return resize(image, fit_size(*image.shape[-2:], max_side))


def check_writable(path: str | Path) -> Path:
    """Fail early (before minutes of work) on an image path we could not save to."""
    path = Path(path)
    if path.suffix.lower() not in SAVE_FORMATS:
        raise UserError(
            f"cannot save {path}: the name must end in one of {', '.join(SAVE_FORMATS)}"
        )
    if path.exists() and path.is_dir():
        raise UserError(f"cannot save {path}: it is a directory")
    return path


def save_image(image: torch.Tensor, path: str | Path) -> Path:
    """Write ``image`` (tensor in [0, 1]) to ``path`` atomically (temp name, then os.replace)."""
    path = check_writable(path)
    with atomic_path(path) as tmp:
        Image.fromarray(to_uint8(image)).save(tmp, format=SAVE_FORMATS[path.suffix.lower()])
    return path
