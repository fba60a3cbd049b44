"""Turn a fundus photo of any size into a square uint8 image of the eye, as the DR reports did.

    from retinopathy.data.preprocess import load_and_preprocess
    rgb = load_and_preprocess("train/10_left.jpeg", 512, "crop")   # 512x512x3 uint8, RGB

``crop``: channel-max grey copy -> threshold -> largest contour -> bounding box -> the square
around it, cut from the photo (black only beyond the photo's edge) and resized. The square takes
the photo's own pixels above and below a box that thresholding made too flat (dark top and
bottom of the disc), which is what Jani & Kumar's widening to 16:9 recovers, and more. A photo
with no fundus disc (all black) or no black border falls back to a centre crop. ``graham``: the
crop, then Ben Graham's Kaggle 2015 recipe: subtract the local average colour (Gaussian blur,
sigma = radius / 30), x4 contrast around grey 128, and mask to 90% of the disc radius.

Every output has the same size whatever the camera, so the photo's original size (which alone
predicts the grade on the APTOS board) never reaches the model.

A JPEG is decoded at full, 1/2, 1/4 or 1/8 resolution by libjpeg's DCT scaling
(``cv2.IMREAD_REDUCED_COLOR_*``): the smallest scale whose shorter side still has ``size``
pixels. The eye is found on that image; when it spans less than :data:`MIN_EYE_SCALE` of
``size`` there, the photo is decoded again at the smallest scale that gives it that much, and an
eye between the two is enlarged (at most 1/0.9 = 1.11x). On EyePACS-size photos (3072x2048,
sensor noise, 512 px out, decoded at 1/4) the result is 0.41-0.58/255 on average (17/255 at
most) from a full decode cut at the same square, and the square is within 2-6 px of the one a
full decode gives (found on a 1/5 thumbnail there: both are quantised to 4-5 px), at most 1.6
output px. ``make bench ARGS=retina_data`` measures both, and the speed: 3.3x the plain full
decode + area resize + PNG path, one core, the reduced decode alone taking 3/4 of our time.

Input checks (:class:`BadImage` names the reason): empty file, not an image, more than
:data:`MAX_PIXELS` claimed in the header (decompression bomb), more than
:data:`MAX_DECODED_PIXELS` in a format that cannot be decoded reduced (only JPEG can), shorter
side under :data:`MIN_SIDE`, truncated JPEG/PNG, undecodable data. Greyscale, alpha and 16-bit
photos are converted (copied to 3 channels / composited on black / scaled to 8 bits) and kept;
the conversion is returned as a note so ``prepare`` can list it.
"""

from __future__ import annotations

import io
import warnings
from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, UnidentifiedImageError

from shared.errors import UserError

MODES = ("crop", "graham")
SIZE_RANGE = (16, 4096)  # the side of a preprocessed photo, in px
MAX_PIXELS = 200_000_000  # 200 MP; the largest fundus cameras make about 25 MP
# The most pixels decoded at once: a JPEG above it is decoded at 1/2, 1/4 or 1/8, a photo in a
# format that cannot be (PNG, TIFF, WebP...) is rejected. It bounds a worker's memory (about
# 12 bytes a pixel at worst, 16-bit RGB: 0.6 GB), so prepare's peak is workers x 0.6 GB.
MAX_DECODED_PIXELS = 50_000_000
MIN_SIDE = 64  # shorter side in pixels; below this there is no retina left to grade
THRESHOLD = 10  # grey level separating the fundus from the (JPEG-noisy) black border
# A reduced decode is kept when the eye spans at least this share of ``size`` there: enlarging it
# by at most 1.11x costs less detail than a second decode costs time (it is the common EyePACS
# layout, a whole disc just inside a 2048 px high frame, 506 px at 1/4 for a 512 px output).
MIN_EYE_SCALE = 0.9
# Bump when the output of this module changes; it keys the cache. 2: no second full decode for an
# eye within MIN_EYE_SCALE of the size (enlarged instead), a second look at the smallest scale
# that suffices rather than always at full size.
PREPROCESS_VERSION = 2

_REDUCED = {1: cv2.IMREAD_COLOR, 2: cv2.IMREAD_REDUCED_COLOR_2, 4: cv2.IMREAD_REDUCED_COLOR_4}
_REDUCED[8] = cv2.IMREAD_REDUCED_COLOR_8


class BadImage(ValueError):
    """A photo that cannot be used; ``str(exc)`` is the reason shown to the user."""


def first_reasons(lines: Sequence[str], shown: int = 3) -> str:
    """The first ``shown`` of ``lines`` ("file: reason") joined for one message line."""
    more = f" (and {len(lines) - shown} more)" if len(lines) > shown else ""
    return "; ".join(lines[:shown]) + more


def check_size(size: int) -> int:
    """``size`` if a preprocessed photo can have it; UserError naming the range otherwise."""
    low, high = SIZE_RANGE
    if not low <= size <= high:
        raise UserError(f"--image-size must be between {low} and {high} px, not {size}")
    return size


# -- geometry --------------------------------------------------------------------------------


def bbox(image: np.ndarray, threshold: int = THRESHOLD) -> tuple[int, int, int, int] | None:
    """``(x0, y0, x1, y1)`` (end-exclusive) of the fundus disc, or None if there is none.

    Works on RGB or BGR: the mask is the per-pixel channel maximum above ``threshold``, which
    keeps dark, red-dominated periphery that a luminance grey would lose.
    """
    if image.ndim == 3:
        # Not dark: some channel above the threshold. One pass, where splitting the channels
        # to take their maximum took 5x as long (about 1 ms of a 13 ms photo at 1/4 scale).
        colour = image if image.shape[2] == 3 else np.ascontiguousarray(image[..., :3])
        mask = cv2.bitwise_not(cv2.inRange(colour, (0, 0, 0), (threshold,) * 3))
    else:
        _, mask = cv2.threshold(image, threshold, 1, cv2.THRESH_BINARY)
    k = max(3, min(image.shape[:2]) // 200) | 1  # drops JPEG speckle and thin caption text
    mask = cv2.morphologyEx(mask, cv2.MORPH_OPEN, np.ones((k, k), np.uint8))
    contours, _ = cv2.findContours(mask, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    if not contours:
        return None
    largest = max(contours, key=cv2.contourArea)
    if cv2.contourArea(largest) < 0.01 * mask.size:
        return None
    x, y, w, h = cv2.boundingRect(largest)
    return x, y, x + w, y + h


def find_square(image: np.ndarray, threshold: int = THRESHOLD) -> tuple[int, int, int]:
    """``(x0, y0, side)``: the square around the fundus disc to cut (may extend past the photo).

    Centred on the disc's bounding box, as wide as its longer side; the centre of the photo
    when there is no disc or no black border.
    """
    height, width = image.shape[:2]
    step = max(1, min(height, width) // 400)  # the box is found on a thumbnail: cheaper
    thumb = (
        image[::step, ::step]
        if step == 1
        else cv2.resize(image, (width // step, height // step), interpolation=cv2.INTER_NEAREST)
    )
    box = bbox(thumb, threshold)
    if box is None:
        return _window(width / 2, height / 2, min(width, height))
    x0, y0, x1, y1 = (min(v * step, lim) for v, lim in zip(box, (width, height) * 2, strict=True))
    if (x0, y0, x1, y1) == (0, 0, width, height):  # no black border at all
        return _window(width / 2, height / 2, min(width, height))
    return _window((x0 + x1) / 2, (y0 + y1) / 2, max(x1 - x0, y1 - y0))


def _window(cx: float, cy: float, side: float) -> tuple[int, int, int]:
    side = max(1, round(side))
    return round(cx - side / 2), round(cy - side / 2), side


def _cut_square(image: np.ndarray, x0: int, y0: int, side: int) -> np.ndarray:
    """The ``side`` x ``side`` window from (x0, y0), black where it leaves the photo.

    A window inside the photo is a view of it (no copy): :func:`_resize` reads it once.
    """
    if x0 >= 0 and y0 >= 0 and x0 + side <= image.shape[1] and y0 + side <= image.shape[0]:
        return image[y0 : y0 + side, x0 : x0 + side]
    out = np.zeros((side, side, image.shape[2]), image.dtype)
    sx0, sy0 = max(x0, 0), max(y0, 0)
    sx1, sy1 = min(x0 + side, image.shape[1]), min(y0 + side, image.shape[0])
    if sx1 > sx0 and sy1 > sy0:
        out[sy0 - y0 : sy1 - y0, sx0 - x0 : sx1 - x0] = image[sy0:sy1, sx0:sx1]
    return out


def square_crop(image: np.ndarray, square: tuple[int, int, int], size: int) -> np.ndarray:
    """The ``(x0, y0, side)`` square of ``image`` (black beyond its edges) at ``size`` px."""
    return _resize(_cut_square(image, *square), size)


def _resize(image: np.ndarray, size: int) -> np.ndarray:
    """Square ``image`` -> ``size`` x ``size``: area averaging when shrinking, cubic when growing.

    OpenCV's INTER_AREA is fast only for whole-number ratios, so a ratio of k.x first goes
    bilinear to exactly k x ``size`` (less than 2x: no aliasing to speak of), then averages.
    """
    k = image.shape[0] // size
    if k == 0:
        return cv2.resize(image, (size, size), interpolation=cv2.INTER_CUBIC)
    if image.shape[0] == size:
        return image.copy()  # may be a view of the photo (_cut_square): never hand that out
    if image.shape[0] != k * size:
        image = cv2.resize(image, (k * size, k * size), interpolation=cv2.INTER_LINEAR)
    if k == 1:
        return image
    return cv2.resize(image, (size, size), interpolation=cv2.INTER_AREA)


def crop_fundus(image: np.ndarray, size: int, threshold: int = THRESHOLD) -> np.ndarray:
    """The eye cut out, padded square and resized to ``size`` x ``size`` (channel order kept)."""
    if image.ndim == 2:
        image = np.repeat(image[..., None], 3, axis=2)
    return square_crop(image, find_square(image, threshold), size)


def graham(square: np.ndarray) -> np.ndarray:
    """Ben Graham's local-average subtraction on a square crop whose disc fills the square."""
    size = square.shape[0]
    radius = size / 2
    blur = cv2.GaussianBlur(square, (0, 0), radius / 30)
    out = cv2.addWeighted(square, 4, blur, -4, 128)
    mask = np.zeros(square.shape[:2], np.uint8)
    cv2.circle(mask, (size // 2, size // 2), int(radius * 0.9), 1, -1, cv2.LINE_AA)
    out[mask == 0] = 128
    return out


# -- decoding --------------------------------------------------------------------------------


def _header(data: bytes) -> Image.Image:
    """Parse the header only (no pixels); our own pixel limit applies, not PIL's smaller one."""
    limit = Image.MAX_IMAGE_PIXELS
    Image.MAX_IMAGE_PIXELS = None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return Image.open(io.BytesIO(data))
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise BadImage("not an image (unrecognised or damaged header)") from exc
    finally:
        Image.MAX_IMAGE_PIXELS = limit


def _png_bit_depth(data: bytes) -> int:
    return data[24] if data[12:16] == b"IHDR" else 8


def _conversion_notes(header: Image.Image, data: bytes) -> list[str]:
    notes = []
    mode = header.mode
    if mode in ("1", "L", "LA", "I", "I;16", "I;16B", "I;16L", "F"):
        notes.append(f"greyscale ({mode}): copied to 3 channels")
    if "A" in mode or "transparency" in header.info:
        notes.append(f"alpha channel ({mode}): composited on black")
    if mode.startswith("I") or (header.format == "PNG" and _png_bit_depth(data) == 16):
        notes.append("16-bit: scaled to 8 bits")
    if mode == "CMYK":
        notes.append("CMYK: converted to RGB")
    return notes


def _check_complete(fmt: str | None, data: bytes) -> None:
    # Decoders fill a cut-off JPEG with grey and only warn; check the end marker ourselves. A
    # start-of-scan after the last end-of-image: searched forward from that end marker, not
    # backward over the whole file (about 1 ms for a 1.2 MB photo).
    if fmt == "JPEG" and data.find(b"\xff\xda", data.rfind(b"\xff\xd9") + 1) != -1:
        raise BadImage("truncated JPEG (no end-of-image marker after the last scan)")
    if fmt == "PNG" and data.rfind(b"IEND") < max(0, len(data) - 4096):
        raise BadImage("truncated PNG (no IEND chunk)")


def _reduction(width: int, height: int, size: int) -> int:
    """Largest DCT scale factor that still leaves ``size`` pixels across the shorter side."""
    return next((f for f in (8, 4, 2) if min(width, height) / f >= size), 1)


def _within_limit(width: int, height: int) -> int:
    """Smallest DCT scale factor whose decode holds at most :data:`MAX_DECODED_PIXELS`."""
    return next(f for f in (1, 2, 4, 8) if width * height / f**2 <= MAX_DECODED_PIXELS)


def _decode_factor(header: Image.Image, size: int, reduce: bool) -> int:
    """The scale to decode at: 1 for formats that have no reduced decode (too large: BadImage)."""
    width, height = header.size
    if header.format != "JPEG":
        if width * height > MAX_DECODED_PIXELS:
            raise BadImage(
                f"too large to decode: {header.format or 'image'} {width}x{height} "
                f"({width * height / 1e6:.0f} MP); only JPEG is decoded at reduced size, other "
                f"formats up to {MAX_DECODED_PIXELS // 1_000_000} MP: save it smaller or as JPEG"
            )
        return 1
    return max(_reduction(width, height, size) if reduce else 1, _within_limit(width, height))


def _to_bgr8(image: np.ndarray) -> np.ndarray:
    """Whatever ``IMREAD_UNCHANGED`` returned -> HxWx3 uint8 BGR."""
    if image.dtype == np.uint16:
        image = (image >> 8).astype(np.uint8)
    elif image.dtype != np.uint8:
        image = cv2.normalize(image, None, 0, 255, cv2.NORM_MINMAX).astype(np.uint8)
    if image.ndim == 2:
        return cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
    if image.shape[2] == 4:
        alpha = image[..., 3:4].astype(np.float32) / 255
        return (image[..., :3] * alpha).round().astype(np.uint8)
    if image.shape[2] == 2:
        return cv2.cvtColor(image[..., 0], cv2.COLOR_GRAY2BGR)
    return image


def _decode(data: bytes, fmt: str | None, factor: int) -> np.ndarray:
    buffer = np.frombuffer(data, np.uint8)
    if fmt == "JPEG":
        image = cv2.imdecode(buffer, _REDUCED[factor])
    else:
        image = cv2.imdecode(buffer, cv2.IMREAD_UNCHANGED)
        image = None if image is None else _to_bgr8(image)
    if image is None:
        raise BadImage(f"undecodable {fmt or 'image'} data")
    return image


def _read_checked(path: str | Path) -> tuple[bytes, Image.Image]:
    """The file's bytes and parsed header, once every check that needs no decoding passed."""
    try:
        data = Path(path).read_bytes()
    except FileNotFoundError:
        raise BadImage("file not found") from None
    except (IsADirectoryError, PermissionError) as exc:
        raise BadImage(f"cannot read file ({exc.strerror})") from None
    if not data:
        raise BadImage("empty file (0 bytes)")
    header = _header(data)
    width, height = header.size
    if width * height > MAX_PIXELS:
        raise BadImage(
            f"decompression bomb: header claims {width}x{height} "
            f"({width * height / 1e6:.0f} MP, limit {MAX_PIXELS // 1_000_000} MP)"
        )
    if min(width, height) < MIN_SIDE:
        raise BadImage(f"tiny image {width}x{height} (shorter side under {MIN_SIDE} px)")
    _check_complete(header.format, data)
    return data, header


def read_photo(
    path: str | Path, size: int, *, reduce: bool = True
) -> tuple[np.ndarray, int, list[str]]:
    """Checked decode: BGR uint8 image, the reduction factor used, and conversion notes.

    With ``reduce``, a JPEG is decoded at the smallest scale keeping ``size`` px across; at
    any rate small enough to hold :data:`MAX_DECODED_PIXELS`.
    """
    data, header = _read_checked(path)
    factor = _decode_factor(header, size, reduce)
    return _decode(data, header.format, factor), factor, _conversion_notes(header, data)


def _factor_for_eye(eye: float, size: int, header: Image.Image) -> int:
    """The smallest scale (largest factor) at which an eye ``eye`` px across at full size spans
    :data:`MIN_EYE_SCALE` x ``size``, but never one holding more than MAX_DECODED_PIXELS."""
    factor = next((f for f in (8, 4, 2) if eye / f >= size * MIN_EYE_SCALE), 1)
    return max(factor, _within_limit(*header.size))


def locate_eye(
    path: str | Path, size: int
) -> tuple[np.ndarray, int, tuple[int, int, int], list[str]]:
    """The photo decoded for a ``size`` px output and the eye found on it.

    Returns the BGR image, its scale factor (1, 2, 4 or 8), the eye's square ``(x0, y0,
    side)`` in the image's pixels (:func:`find_square`) and the conversion notes.
    """
    data, header = _read_checked(path)
    factor = _decode_factor(header, size, reduce=True)
    image = _decode(data, header.format, factor)
    square = find_square(image)
    if factor > 1 and square[2] < size * MIN_EYE_SCALE:  # a small eye: decode sharper after all
        sharper = _factor_for_eye(square[2] * factor, size, header)
        if sharper < factor:
            factor, image = sharper, _decode(data, header.format, sharper)
            square = find_square(image)
    return image, factor, square, _conversion_notes(header, data)


def preprocess_file(
    path: str | Path, size: int, mode: str = "crop"
) -> tuple[np.ndarray, list[str]]:
    """``size`` x ``size`` RGB uint8 and the conversion notes; raises :class:`BadImage`."""
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, not {mode!r}")
    image, _, square, notes = locate_eye(path, size)
    out = square_crop(image, square, size)
    if mode == "graham":
        out = graham(out)
    return cv2.cvtColor(out, cv2.COLOR_BGR2RGB), notes


def load_and_preprocess(path: str | Path, size: int, mode: str = "crop") -> np.ndarray:
    """``size`` x ``size`` x 3 RGB uint8 of the photo at ``path``; raises :class:`BadImage`."""
    return preprocess_file(path, size, mode)[0]
