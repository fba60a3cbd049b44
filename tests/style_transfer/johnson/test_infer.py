"""One photo, a list of any sizes, a folder: batches equal one-by-one, bad files refused early."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from shared.errors import UserError
from style_transfer.color import rgb_to_ycbcr
from style_transfer.johnson import infer
from style_transfer.johnson.net import NetConfig, TransformerNet
from tests.helpers import photo


def test_batches_and_mixed_sizes_equal_one_by_one() -> None:
    torch.manual_seed(0)
    net = TransformerNet(NetConfig(widths=(8, 16, 32), residual_blocks=2))
    rng = np.random.default_rng(0)
    images = [
        rng.integers(0, 256, size, dtype=np.uint8)
        for size in [(40, 52, 3), (33, 20, 3), (40, 52, 3), (40, 52, 3)]
    ]
    batched = infer.transform_images(net, images, batch_size=3)
    for image, out in zip(images, batched, strict=True):
        assert out.shape == image.shape
        single = infer.transform_image(net, image).astype(int)
        assert np.abs(out.astype(int) - single).max() <= 1  # rounding only
    tensor = torch.from_numpy(images[1]).permute(2, 0, 1).float() / 255
    out = infer.transform_image(net, tensor)
    assert isinstance(out, torch.Tensor) and out.shape == tensor.shape
    assert (out * 255 - torch.from_numpy(batched[1]).permute(2, 0, 1)).abs().max() <= 1


def _ycbcr(image: np.ndarray) -> np.ndarray:
    """HxWx3 uint8 RGB -> HxWx3 Y, Cb, Cr in [0, 255]."""
    rgb = torch.from_numpy(image).permute(2, 0, 1).float() / 255
    return (rgb_to_ycbcr(rgb) * 255).permute(1, 2, 0).numpy()


def test_preserve_color_keeps_the_photos_chroma_and_the_networks_luminance() -> None:
    torch.manual_seed(0)
    net = TransformerNet(NetConfig(widths=(8, 16, 32), residual_blocks=1))
    cat = np.ascontiguousarray(photo("chelsea")[::6, ::6])  # a real photo, 50x76
    plain = _ycbcr(infer.transform_image(net, cat))
    kept = _ycbcr(infer.transform_images(net, [cat], preserve_color=True)[0])
    original = _ycbcr(cat)
    chroma_off = np.abs(kept[..., 1:] - original[..., 1:]).mean()
    assert chroma_off < 1.5  # 8-bit rounding and the odd clipped pixel
    assert np.abs(plain[..., 1:] - original[..., 1:]).mean() > 5 * chroma_off  # it moved them
    assert np.abs(kept[..., 0] - plain[..., 0]).mean() < 1.5  # the network's luminance


def test_too_small_image_is_a_user_error() -> None:
    net = TransformerNet(NetConfig(widths=(8, 16, 32), residual_blocks=1))
    with pytest.raises(UserError, match="too small"):
        infer.transform_image(net, np.zeros((5, 40, 3), np.uint8))


def test_folder_in_folder_out(tmp_path: Path) -> None:
    net = TransformerNet(NetConfig(widths=(8, 16, 32), residual_blocks=1))
    src = tmp_path / "in"
    src.mkdir()
    for name, size in [("a.png", (30, 40)), ("b.jpg", (24, 36)), ("c.png", (30, 40))]:
        Image.fromarray(np.full((*size, 3), 128, np.uint8)).save(src / name)
    (src / "notes.txt").write_text("not an image")
    written = infer.transform_folder(net, src, tmp_path / "out", progress=False)
    assert sorted(p.name for p in written) == ["a.png", "b.jpg", "c.png"]
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["a.png", "b.jpg", "c.png"]
    assert np.asarray(Image.open(tmp_path / "out" / "b.jpg")).shape == (24, 36, 3)
    (src / "d.png").write_bytes(b"garbage")
    with pytest.raises(UserError, match="cannot read image"):
        infer.transform_folder(net, src, tmp_path / "out2", progress=False)
    assert not (tmp_path / "out2").exists()  # refused before anything was written
    (tmp_path / "empty").mkdir()
    with pytest.raises(UserError, match="no images"):
        infer.transform_folder(net, tmp_path / "empty", tmp_path / "out3", progress=False)
