"""What the Johnson training tests share: six real photos, a style image, a short clip, a
few-second set of train flags, and bit-for-bit comparisons of runs."""

from __future__ import annotations

import json
from pathlib import Path

import av
import numpy as np
import torch
from PIL import Image
from safetensors import safe_open

from style_transfer.styles import get_style
from tests.helpers import photo

TRAIN_PHOTOS = ("coffee", "chelsea", "rocket", "immunohistochemistry", "cat", "retina")
HELD_OUT = "astronaut"  # never trained on
WIDTHS, BLOCKS = (8, 16, 32), 1


def tensor(image: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.array(image)).permute(2, 0, 1).float().div(255)


def write_photos(folder: Path) -> Path:
    """Six real photos, 64x48 (not square: the loader's resize and centre crop do work)."""
    for name in TRAIN_PHOTOS:
        Image.fromarray(photo(name)).resize((64, 48), Image.Resampling.BOX).save(
            folder / f"{name}.png"
        )
    return folder


def write_style(path: Path) -> Path:
    Image.open(get_style("starry").image_path).convert("RGB").resize((64, 64)).save(path)
    return path


def write_pan(path: Path) -> Path:
    """Six frames of a pan across a real photo, 48x32 H.264."""
    picture = photo("astronaut")
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=25)
        stream.width, stream.height, stream.pix_fmt = 48, 32, "yuv420p"
        for i in range(6):
            crop = np.ascontiguousarray(picture[100 + 4 * i : 132 + 4 * i, 150 : 150 + 48])
            out.mux(stream.encode(av.VideoFrame.from_ndarray(crop, "rgb24")))
        out.mux(stream.encode(None))
    return path


def tiny_args(photos_dir: Path, style_png: Path) -> list[str]:
    """The train command's options for a few-second run."""
    return [
        "--style-image", str(style_png), "--data", str(photos_dir), "--image-size", "32",
        "--style-size", "48", "--backbone", "efficientnet_lite0",
        "--widths", ",".join(map(str, WIDTHS)), "--residual-blocks", str(BLOCKS),
        "--batch-size", "2", "--lr", "0.01", "--device", "cpu", "--threads", "1",
    ]  # fmt: skip


def without_time(rows: list[dict]) -> list[dict]:
    return [{k: v for k, v in r.items() if k != "time"} for r in rows]


def assert_same_tensors(a, b, where: str = "") -> None:
    """Nested dicts/lists of tensors and plain values, equal bit for bit."""
    if isinstance(a, torch.Tensor):
        assert isinstance(b, torch.Tensor) and a.dtype == b.dtype and torch.equal(a, b), where
    elif isinstance(a, dict):
        assert a.keys() == b.keys(), where
        for k in a:
            assert_same_tensors(a[k], b[k], f"{where}/{k}")
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            assert_same_tensors(x, y, f"{where}/{i}")
    else:
        assert a == b, where


def header_of(path: Path) -> dict[str, str]:
    with safe_open(str(path), framework="pt") as f:
        return dict(f.metadata())


def meta_of(path: Path) -> dict:
    return json.loads(header_of(path)["meta"])
