"""Small fundus photos and dataset folders in every supported layout, for the retinopathy tests."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import cv2
import numpy as np

from retinopathy.data.fundus_drawing import render


def photo(grade: int = 0, seed: int = 0, size: int = 96, eye: str = "left") -> np.ndarray:
    """A small synthetic fundus photo, HxWx3 uint8 RGB."""
    return render(grade, eye, size, np.random.default_rng([seed, grade]))


def write_photo(path: Path, image: np.ndarray | None = None, **kw) -> Path:
    """Write an RGB photo (default: :func:`photo`) as JPEG or PNG, by the suffix."""
    path.parent.mkdir(parents=True, exist_ok=True)
    image = photo(**kw) if image is None else image
    data = image[..., ::-1] if image.ndim == 3 and image.shape[2] == 3 else image
    assert cv2.imwrite(str(path), data)
    return path


def png_claiming(width: int, height: int) -> bytes:
    """A tiny valid-looking PNG whose header claims ``width`` x ``height``: a decompression bomb."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return (
            struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
        )

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    idat = zlib.compress(b"\0" * 64)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


def write_eyepacs(root: Path, grades: dict[str, int], size: int = 96) -> Path:
    lines = ["image,level"]
    for k, (name, grade) in enumerate(grades.items()):
        write_photo(root / "train" / f"{name}.jpeg", grade=grade, seed=k, size=size)
        lines.append(f"{name},{grade}")
    (root / "trainLabels.csv").write_text("\n".join(lines) + "\n")
    return root
