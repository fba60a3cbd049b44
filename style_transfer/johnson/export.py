"""Export a trained network to ONNX, with dynamic batch, height and width.

    from style_transfer.johnson.export import export_onnx
    export_onnx(model, "starry.onnx")  # input "image" (N, 3, H, W) RGB in [0, 1] -> "stylized"

The graph pads to a multiple of 4 and crops back inside, so any H, W >= 8 works in an ONNX
runtime as it does in PyTorch. The ``torch.export``-based exporter is used when ``onnxscript`` is
installed; otherwise the TorchScript-based one, which PyTorch still ships and which needs nothing
else. The file is checked with ``onnx.checker`` before it replaces its destination.
"""

from __future__ import annotations

import copy
import importlib.util
import warnings
from pathlib import Path

import torch

from shared.atomic import atomic_path
from shared.errors import UserError
from style_transfer.johnson.net import TransformerNet, UpsampleConvLayer

OPSET = 17
DYNAMIC_AXES = {
    "image": {0: "batch", 2: "height", 3: "width"},
    "stylized": {0: "batch", 2: "height", 3: "width"},
}


def export_onnx(model: TransformerNet, path: str | Path) -> Path:
    """Write ``model`` as an ONNX file at ``path`` (atomically) and check it; returns the path."""
    if importlib.util.find_spec("onnx") is None:
        raise UserError("ONNX export needs the 'onnx' package: pip install onnx")
    path = Path(path)
    net = copy.deepcopy(model).float().cpu().to(memory_format=torch.contiguous_format).eval()
    for layer in net.modules():
        if isinstance(layer, UpsampleConvLayer):  # the 4x4 kernel as a constant, not an Einsum
            layer.frozen_kernel = layer.transposed_kernel().detach()
    example = torch.rand(1, 3, 64, 96)
    with atomic_path(path) as tmp:
        _export(net, example, tmp)
        check_onnx(tmp)
    return path


def _export(net: torch.nn.Module, example: torch.Tensor, path: Path) -> None:
    use_dynamo = importlib.util.find_spec("onnxscript") is not None
    kwargs = {"dynamo": use_dynamo, "external_data": False} if use_dynamo else {"dynamo": False}
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")  # the TorchScript exporter's deprecation and tracer notes
        torch.onnx.export(
            net,
            (example,),
            str(path),
            input_names=["image"],
            output_names=["stylized"],
            dynamic_axes=DYNAMIC_AXES,
            opset_version=OPSET,
            **kwargs,
        )


def check_onnx(path: str | Path) -> None:
    """``onnx.checker`` plus: the input's batch, height and width must be symbolic."""
    import onnx

    model = onnx.load(str(path))
    onnx.checker.check_model(model, full_check=True)
    dims = model.graph.input[0].type.tensor_type.shape.dim
    fixed = [i for i in (0, 2, 3) if not dims[i].dim_param]
    if fixed:
        raise RuntimeError(f"ONNX export left input axes {fixed} fixed; expected dynamic sizes")
