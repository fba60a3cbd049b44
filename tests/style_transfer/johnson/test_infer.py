"""One photo, a list of any sizes, a folder: batches equal one-by-one, bad files refused early."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from shared.errors import UserError
from style_transfer.johnson import infer
from style_transfer.johnson.net import NetConfig, TransformerNet


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
