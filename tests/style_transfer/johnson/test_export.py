"""ONNX export: dynamic batch, height and width, and the same numbers as PyTorch."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from tests.style_transfer.johnson.small_nets import small_net


def test_onnx_export_has_dynamic_size_and_computes_the_same(tmp_path: Path) -> None:
    onnx = pytest.importorskip("onnx")
    from onnx.reference import ReferenceEvaluator

    from style_transfer.johnson.export import export_onnx

    net = small_net()
    path = export_onnx(net, tmp_path / "net.onnx")
    model = onnx.load(str(path))
    dims = model.graph.input[0].type.tensor_type.shape.dim
    assert [d.dim_param for d in dims] == ["batch", "", "height", "width"]
    assert "Einsum" not in {n.op_type for n in model.graph.node}
    x = torch.rand(1, 3, 21, 30)  # exported at 64x96: another, odd size
    (y,) = ReferenceEvaluator(model).run(None, {"image": x.numpy()})
    with torch.no_grad():
        expected = net(x).numpy()
    assert y.shape == expected.shape and np.abs(y - expected).max() < 1e-5
