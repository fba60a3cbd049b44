"""onnxruntime runs the shipped networks as PyTorch does: within 1/255 on a real photo."""

from __future__ import annotations

import pytest
import torch

from style_transfer.johnson.model_file import load_model
from style_transfer.styles import get_style
from tests.helpers import photo

pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")

from style_transfer.johnson.onnx_runtime import OnnxNet


@pytest.mark.parametrize("style", ["starry", "mosaic"])
def test_onnxruntime_matches_pytorch_on_a_real_photo(style):
    model, _ = load_model(get_style(style).model_path, device="cpu")
    x = torch.from_numpy(photo("astronaut")[::2, ::2].copy()).permute(2, 0, 1)[None].float() / 255
    x = x[..., :254, :]  # not a multiple of 4: the graph's own padding is exercised too
    with torch.inference_mode():
        expected = model.eval()(x)
    got = OnnxNet.from_model(model, threads=1)(x)
    assert got.shape == expected.shape
    diff = (got - expected).abs() * 255
    assert diff.mean() < 0.05 and diff.max() < 1.0
