"""Export a trained network to ONNX, with dynamic batch, height and width.

    from style_transfer.johnson.export import export_onnx
    export_onnx(model, "starry.onnx")  # input "image" (N, 3, H, W) RGB in [0, 1] -> "stylized"
    export_onnx(model, "record.onnx", graph="record")  # + "mean0", "var0", ... outputs
    export_onnx(model, "shared.onnx", graph="shared")  # + "mean0", "var0", ... inputs

The graph pads to a multiple of 4 and crops back inside, so any H, W >= 8 works in an ONNX
runtime as it does in PyTorch. Two more graphs let a runtime tile a large image as
:mod:`~style_transfer.johnson.tiles` does: ``record`` also returns every instance norm's
per-channel mean and variance (pooled over the batch, in layer order), and ``shared`` normalises
with the ones it is given instead of its input's. The ``torch.export``-based exporter is used
when ``onnxscript`` is installed; otherwise the TorchScript-based one, which PyTorch still ships
and which needs nothing else. The file is checked with ``onnx.checker`` before it replaces its
destination.
"""

from __future__ import annotations

import copy
import importlib.util
import warnings
from pathlib import Path

import torch
from torch import nn

from shared.atomic import atomic_path
from shared.errors import UserError
from style_transfer.johnson.net import TransformerNet, UpsampleConvLayer, norm_layers

OPSET = 17
GRAPHS = ("plain", "record", "shared")
SIZE_AXES = {0: "batch", 2: "height", 3: "width"}


def export_onnx(model: TransformerNet, path: str | Path, *, graph: str = "plain") -> Path:
    """Write ``model`` as an ONNX file at ``path`` (atomically) and check it; returns the path.

    ``graph``: ``plain`` (the network), ``record`` or ``shared`` (its instance-norm statistics
    out or in; see the module docstring).
    """
    if importlib.util.find_spec("onnx") is None:
        raise UserError("ONNX export needs the 'onnx' package: pip install onnx")
    if graph not in GRAPHS:
        raise ValueError(f"graph must be one of {', '.join(GRAPHS)}, not {graph!r}")
    path = Path(path)
    net = copy.deepcopy(model).float().cpu().to(memory_format=torch.contiguous_format).eval()
    for layer in net.modules():
        if isinstance(layer, UpsampleConvLayer):  # the 4x4 kernel as a constant, not an Einsum
            layer.frozen_kernel = layer.transposed_kernel().detach()
    wrapped = {"plain": net, "record": _Recording(net), "shared": _Shared(net)}[graph]
    inputs, outputs = ["image"], ["stylized"]
    example: tuple[torch.Tensor, ...] = (torch.rand(1, 3, 64, 96),)
    if graph != "plain":
        names = statistics_names(net)
        (inputs if graph == "shared" else outputs).extend(names)
    if graph == "shared":
        example += tuple(torch.rand(n.num_features) + 0.5 for n in norm_layers(net) for _ in "mv")
    with atomic_path(path) as tmp:
        _export(wrapped, example, tmp, inputs, outputs)
        check_onnx(tmp)
    return path


def statistics_names(model: nn.Module) -> list[str]:
    """``mean0, var0, mean1, var1, ...``: one pair per instance norm, in layer order."""
    return [f"{kind}{i}" for i in range(len(norm_layers(model))) for kind in ("mean", "var")]


class _Recording(nn.Module):
    """The network, also returning every instance norm's recorded (mean, var)."""

    def __init__(self, net: TransformerNet) -> None:
        super().__init__()
        self.net = net

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        norms = norm_layers(self.net)
        try:
            for norm in norms:
                norm.record = True
            y = self.net(x)
            return (y, *(s for norm in norms for s in norm.recorded))  # type: ignore[union-attr]
        finally:
            for norm in norms:
                norm.record, norm.recorded = False, None


class _Shared(nn.Module):
    """The network normalising with the (mean, var) pairs it is given."""

    def __init__(self, net: TransformerNet) -> None:
        super().__init__()
        self.net = net

    def forward(self, x: torch.Tensor, *stats: torch.Tensor) -> torch.Tensor:
        norms = norm_layers(self.net)
        try:
            for i, norm in enumerate(norms):
                norm.shared_stats = (stats[2 * i], stats[2 * i + 1])
            return self.net(x)
        finally:
            for norm in norms:
                norm.shared_stats = None


def _export(
    net: nn.Module,
    example: tuple[torch.Tensor, ...],
    path: Path,
    inputs: list[str],
    outputs: list[str],
) -> None:
    use_dynamo = importlib.util.find_spec("onnxscript") is not None
    kwargs = {"dynamo": use_dynamo, "external_data": False} if use_dynamo else {"dynamo": False}
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")  # the TorchScript exporter's deprecation and tracer notes
        torch.onnx.export(
            net,
            example,
            str(path),
            input_names=inputs,
            output_names=outputs,
            dynamic_axes={"image": SIZE_AXES, "stylized": SIZE_AXES},
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
