"""A trained network run by onnxruntime instead of PyTorch: ``stylize --backend onnxruntime``.

    from style_transfer.johnson.onnx_runtime import OnnxNet, OnnxTransformer
    net = OnnxNet.from_model(model, threads=1)  # exported once, to a temporary file
    y = net(x)                                  # (N, 3, H, W) float in [0, 1] -> same shape
    module = OnnxTransformer(model_file, model, threads=1)  # what the command runs, cached
    transform_image(module, photo)              # any size, tiles included, as in PyTorch

The graphs are the ones :func:`~style_transfer.johnson.export.export_onnx` writes (dynamic batch,
height and width; padding to a multiple of 4 inside), kept in the user's cache folder
(``$XDG_CACHE_HOME/visionlab/onnx``) under the model file's SHA-256, so a model is exported once
and an edited model file is exported anew. :class:`OnnxTransformer` stands in for the PyTorch
module in :mod:`~style_transfer.johnson.infer` and :mod:`~style_transfer.johnson.tiles`: a photo
too large for one pass is tiled the same way, its instance-norm statistics recorded by one graph
and shared with the tiles by another (both exported on first use), so every layer runs in
onnxruntime. The CPU provider, in float32, with ``threads`` intra-op threads.
"""

from __future__ import annotations

import hashlib
import importlib.util
import tempfile
from pathlib import Path

import numpy as np
import torch
from torch import nn

from shared.errors import UserError
from shared.user_dirs import cache_dir
from style_transfer.johnson.export import OPSET, export_onnx
from style_transfer.johnson.net import TransformerNet, norm_layers

GRAPH_VERSION = 1  # of what export_onnx writes: a new one makes the cached files stale


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

    def run(self, x: torch.Tensor, *extra: torch.Tensor) -> list[torch.Tensor]:
        """Every output for image ``x`` and the graph's further inputs, in their order."""
        arrays = [np.ascontiguousarray(t.detach().float().cpu().numpy()) for t in (x, *extra)]
        feeds = {i.name: a for i, a in zip(self.session.get_inputs(), arrays, strict=True)}
        return [torch.from_numpy(y) for y in self.session.run(None, feeds)]

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        return self.run(x)[0]


def file_digest(path: str | Path) -> str:
    """SHA-256 of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def cached_graph(model_file: str | Path, model: TransformerNet, graph: str = "plain") -> Path:
    """The ONNX file of ``model`` (loaded from ``model_file``), exported on first use."""
    name = f"johnson-{file_digest(model_file)}-{graph}-opset{OPSET}-v{GRAPH_VERSION}.onnx"
    path = cache_dir() / "onnx" / name
    if not path.is_file():  # written whole or not at all, so a file there is a complete one
        export_onnx(model, path, graph=graph)
    return path


class OnnxTransformer(nn.Module):
    """onnxruntime sessions standing in for a :class:`TransformerNet`.

    It holds the PyTorch network for what the callers read from a module (its device, dtype,
    memory per pixel, instance-norm layers) and runs none of it: a call runs the ``plain``
    graph, or while :mod:`~style_transfer.johnson.tiles` records statistics (``record`` set on
    the norms) the ``record`` graph, handing each norm its recorded pair, or while it shares them
    (``shared_stats``) the ``shared`` graph with those pairs as inputs.
    """

    def __init__(self, model_file: str | Path, net: TransformerNet, threads: int | None) -> None:
        super().__init__()
        require_onnxruntime()
        self.model_file, self.threads = Path(model_file), threads
        self.net = net.float().cpu().eval()
        self.sessions: dict[str, OnnxNet] = {}
        self.session("plain")  # exported and opened now: a failure shows before any work

    def session(self, graph: str) -> OnnxNet:
        if graph not in self.sessions:
            path = cached_graph(self.model_file, self.net, graph)
            self.sessions[graph] = OnnxNet(path, self.threads)
        return self.sessions[graph]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        norms = norm_layers(self.net)
        if norms and norms[0].shared_stats is not None:
            stats = [s for norm in norms for s in norm.shared_stats]  # type: ignore[union-attr]
            return self.session("shared").run(x, *stats)[0].to(x.device)
        if norms and norms[0].record:
            y, *stats = self.session("record").run(x)
            for i, norm in enumerate(norms):
                norm.recorded = (stats[2 * i], stats[2 * i + 1])
            return y.to(x.device)
        return self.session("plain")(x).to(x.device)
