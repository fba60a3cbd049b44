"""A trained network run by onnxruntime instead of PyTorch: ``stylize --backend onnxruntime``.

    from style_transfer.johnson.onnx_runtime import OnnxNet
    net = OnnxNet.from_model(model, threads=1)   # exported once, to a temporary file
    y = net(x)                                   # (N, 3, H, W) float in [0, 1] -> same shape

The graph is the one :func:`~style_transfer.johnson.export.export_onnx` writes (dynamic batch,
height and width; padding to a multiple of 4 inside), so any size PyTorch takes runs here too.
It stands in for the PyTorch module in one pass over whole photos; tiling, which shares
instance-norm statistics between tiles through the module's layers, stays PyTorch's.
"""

from __future__ import annotations

import importlib.util
import tempfile
from pathlib import Path

import numpy as np
import torch

from shared.errors import UserError
from style_transfer.johnson.export import export_onnx
from style_transfer.johnson.net import TransformerNet

BACKEND_CHOICES = ("torch", "onnxruntime")
DEFAULT_BACKEND = "torch"


def require_onnxruntime() -> None:
    if importlib.util.find_spec("onnxruntime") is None:
        raise UserError(
            "--backend onnxruntime needs the 'onnxruntime' package: pip install onnxruntime"
        )


class OnnxNet:
    """An exported network in an onnxruntime session, called like the PyTorch module."""

    def __init__(self, path: str | Path, threads: int | None = None) -> None:
        require_onnxruntime()
        import onnxruntime

        options = onnxruntime.SessionOptions()
        if threads is not None:
            # the same budget as PyTorch's: one pool, no second pool waiting on the first
            options.intra_op_num_threads = threads
            options.inter_op_num_threads = 1
        self.session = onnxruntime.InferenceSession(
            str(path), options, providers=["CPUExecutionProvider"]
        )
        self.input = self.session.get_inputs()[0].name

    @classmethod
    def from_model(cls, model: TransformerNet, threads: int | None = None) -> OnnxNet:
        with tempfile.TemporaryDirectory() as folder:
            path = export_onnx(model, Path(folder) / "net.onnx")
            # the session holds the graph in memory: the file may go with the folder
            return cls(path, threads)

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        array = np.ascontiguousarray(x.detach().float().cpu().numpy())
        (y,) = self.session.run(None, {self.input: array})
        return torch.from_numpy(y)
