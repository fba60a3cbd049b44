"""onnxruntime runs the shipped networks as PyTorch does: within 1/255 on a real photo, in one
pass or in tiles that share instance-norm statistics; the exported graphs are cached by the model
file's content."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from style_transfer.johnson import onnx_runtime
from style_transfer.johnson.infer import transform_image
from style_transfer.johnson.model_file import load_model, save_model
from style_transfer.styles import get_style
from tests.helpers import photo
from tests.style_transfer.johnson.small_nets import small_net

pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")

from style_transfer.johnson.onnx_runtime import OnnxNet, OnnxTransformer


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


def test_tiles_run_in_onnxruntime_as_in_pytorch():
    """The statistics are recorded by one graph and shared with the tiles by another."""
    path = get_style("wave").model_path
    model, _ = load_model(path, device="cpu")
    picture = cv2.resize(photo("astronaut"), (203, 150), interpolation=cv2.INTER_AREA)
    net = OnnxTransformer(path, model, threads=1)
    assert set(net.sessions) == {"plain"}  # the tile graphs only when a photo needs them
    assert net.sessions["plain"].session.get_session_options().intra_op_num_threads == 1
    expected = transform_image(model, picture, tile=96, overlap=48).astype(int)
    got = transform_image(net, picture, tile=96, overlap=48).astype(int)
    assert set(net.sessions) == {"plain", "record", "shared"}
    diff = np.abs(got - expected)
    assert diff.mean() < 0.05 and diff.max() <= 1
    whole = transform_image(model, picture).astype(int)  # and tiling did not cast the colours
    assert np.abs(got - whole).mean() < 1.0


def test_the_graph_is_exported_once_per_model_file_content(tmp_path: Path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    file = save_model(tmp_path / "net.safetensors", small_net(), {"style": "test"})
    model, _ = load_model(file, device="cpu")
    OnnxTransformer(file, model, threads=1)
    (graph,) = (tmp_path / "cache" / "visionlab" / "onnx").iterdir()
    assert onnx_runtime.file_digest(file) in graph.name and "plain" in graph.name

    def refuse(*args, **kwargs):
        raise AssertionError("exported again")

    with monkeypatch.context() as patch:
        patch.setattr(onnx_runtime, "export_onnx", refuse)
        x = torch.rand(1, 3, 24, 40)
        again = OnnxTransformer(file, model, threads=1)  # the cached file
        with torch.inference_mode():
            assert (again(x) - model(x)).abs().max() < 1e-5
    save_model(file, small_net(seed=1), {"style": "test"})  # the same name, other weights
    other, _ = load_model(file, device="cpu")
    OnnxTransformer(file, other, threads=1)
    assert len(list(graph.parent.iterdir())) == 2
