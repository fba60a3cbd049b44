"""Images in and out: the one reader and the one writer every style-transfer command uses.

    from style_transfer.images import read_photo, read_image, resize_max_side, write_image
    photo = read_photo("me.jpg")            # HxWx3 uint8 RGB, EXIF orientation applied
    upright = as_rgb(Image.open("me.jpg"))  # a PIL image already open: the same conversion
    image = read_image("astronaut")         # a sample photo name or a path: (3, H, W) in [0, 1]
    image = resize_max_side(image, 512)     # longer side 512 px, aspect kept
    write_image(image, "out/photo.png")     # a tensor or an array; temp file + rename

Every photo, whatever it holds, comes out as 8-bit RGB: the EXIF orientation a phone records is
applied; 16-bit images are scaled to 8 bits (converted naively, a 16-bit grey PNG is all white);
greyscale, palette, CMYK and alpha images become RGB (alpha dropped). A missing, unreadable or
absurdly large file (a decompression bomb: a header claiming more than twice
``PIL.Image.MAX_IMAGE_PIXELS``) is a one-line :class:`UserError`, raised before any pixel is
decoded.
Sample content photos come from scikit-image's data module, so they need no download.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image, ImageOps, UnidentifiedImageError

from shared.atomic import atomic_path
from shared.errors import UserError

SAVE_FORMATS = {
    ".png": "PNG", ".jpg": "JPEG", ".jpeg": "JPEG", ".webp": "WEBP", ".bmp": "BMP",
    ".tif": "TIFF", ".tiff": "TIFF",
}  # fmt: skip
JPEG_QUALITY = 95  # results are pictures to look at: no visible blocking

ImageLike = torch.Tensor | np.ndarray
# What Pillow raises for a file it cannot decode: not an image, truncated, a bomb (not an
# OSError), a header whose fields make no sense.
READ_ERRORS = (
    UnidentifiedImageError, Image.DecompressionBombError, OSError, ValueError, SyntaxError,
)  # fmt: skip


SAMPLE_PHOTOS = ("astronaut", "chelsea", "coffee", "rocket")  # content by name, no download
DEFAULT_CONTENT = "chelsea"


class UnreadableImage(UserError):
    """A file that is there but does not decode as an image; ``reason`` says why."""

    def __init__(self, path: Path, reason: object) -> None:
        super().__init__(f"cannot read image {path}: {reason}")
        self.path, self.reason = path, reason


# ----------------------------------------------------------------------------- reading


def open_photo(path: str | Path, *, draft: tuple[int, int] | None = None) -> Image.Image:
    """The image file at ``path`` as an 8-bit RGB PIL image, EXIF orientation applied.

    ``draft``: let a JPEG decode at 1/2, 1/4 or 1/8 scale when that still covers this size
    (a large photo then costs a fraction of a full decode).
    """
    path = _existing_file(path)
    try:
        with Image.open(path) as img:
            if draft is not None:
                img.draft("RGB", draft)
            return as_rgb(img)
    except READ_ERRORS as exc:
        raise UnreadableImage(path, exc) from None


def _existing_file(path: str | Path) -> Path:
    path = Path(path)
    if path.is_dir():
        raise UserError(f"{path} is a folder, not an image file")
    if not path.is_file():
        samples = ", ".join(SAMPLE_PHOTOS)
        raise UserError(f"image not found: {path} (or use a sample photo: {samples})")
    return path


def as_rgb(img: Image.Image) -> Image.Image:
    """Any PIL image as 8-bit RGB the way it is meant to be seen: its EXIF orientation applied
    (a phone stores a portrait photo landscape, with a tag saying so), then :func:`to_rgb`."""
    return to_rgb(ImageOps.exif_transpose(img))


def to_rgb(img: Image.Image) -> Image.Image:
    if img.mode.startswith("I"):  # 16-bit grey (or 32-bit integers holding 16-bit values)
        values = np.asarray(img).astype(np.int64)
        if img.mode != "I" or values.max(initial=0) > 255:
            values = values >> 8  # the top 8 of 16 bits
        img = Image.fromarray(np.clip(values, 0, 255).astype(np.uint8), "L")
    elif img.mode == "F":  # floating point: [0, 1] when it fits there, else 0-255
        values = np.asarray(img)
        scale = 255.0 if float(values.max(initial=0.0)) <= 1.0 else 1.0
        img = Image.fromarray(np.clip(values * scale, 0, 255).round().astype(np.uint8), "L")
    return img.convert("RGB")


def skimage_photo(name: str) -> np.ndarray:
    """One of scikit-image's bundled photos as contiguous HxWx3 uint8 RGB (``motorcycle``: the
    left view of its stereo pair, ``motorcycle_right`` the right one)."""
    from skimage import data

    views = {"motorcycle": 0, "motorcycle_right": 1}
    photo = data.stereo_motorcycle()[views[name]] if name in views else getattr(data, name)()
    if photo.ndim == 2:
        photo = np.stack([photo] * 3, axis=-1)
    return np.ascontiguousarray(photo[..., :3])


def read_photo(source: str | Path) -> np.ndarray:
    """A sample photo name or an image path as a contiguous HxWx3 uint8 RGB array."""
    if str(source) in SAMPLE_PHOTOS:
        return skimage_photo(str(source))
    return np.asarray(open_photo(source))


def read_image(source: str | Path) -> torch.Tensor:
    """A sample photo name or an image path as a (3, H, W) float32 tensor in [0, 1]."""
    return to_tensor(read_photo(source))


def photo_size(path: str | Path) -> tuple[int, int]:
    """(height, width) after EXIF rotation, from the header alone (no pixels decoded)."""
    path = _existing_file(path)
    try:
        with Image.open(path) as img:
            w, h = img.size
            rotated = img.getexif().get(0x0112, 1) in (5, 6, 7, 8)
    except READ_ERRORS as exc:
        raise UnreadableImage(path, exc) from None
    return (w, h) if rotated else (h, w)


# ----------------------------------------------------------------------------- conversions


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


# ----------------------------------------------------------------------------- sizes


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


def shrink(photo: np.ndarray, max_side: int | None) -> np.ndarray:
    """An HxWx3 uint8 photo area-averaged down so its longer side is at most ``max_side``."""
    h, w = photo.shape[:2]
    if max_side is None or max(h, w) <= max_side:
        return photo
    nh, nw = fit_size(h, w, max_side)
    return np.asarray(Image.fromarray(photo).resize((nw, nh), Image.Resampling.BOX))


# ----------------------------------------------------------------------------- writing


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


def write_image(image: ImageLike, path: str | Path, *, quality: int = JPEG_QUALITY) -> Path:
    """Write a (3, H, W) tensor in [0, 1] or an HxWx3 uint8 array to ``path``, atomically.

    The format follows the suffix; ``quality`` is the JPEG quality.
    """
    path = check_writable(path)
    array = to_uint8(image) if isinstance(image, torch.Tensor) else image
    fmt = SAVE_FORMATS[path.suffix.lower()]
    options = {"quality": quality} if fmt == "JPEG" else {}
    # needs: the pixels' bytes, what an uncompressed file would take (a PNG takes less)
    with atomic_path(path, needs=array.nbytes) as tmp:
        Image.fromarray(array).save(tmp, format=fmt, **options)
    return path
