"""A network compiled for inference by ``torch.compile`` (TorchInductor), for long runs.

    from shared.compiled import compile_network
    model = compile_network(model, device)   # compiled, or the model itself with one warning

Inductor fuses what runs between the convolutions (normalisation, its affine, the ReLU, the
padding) into generated loops, so a feature map is read and written once where eager PyTorch
makes a pass per operator: the Johnson network at 1024 px in bfloat16 ran 1.3x faster on this
project's CPU bench (``make bench ARGS=roofline``). The compilation itself takes seconds (about
10-20 s the first time, 2-3 s from Inductor's on-disk cache) and again for each new input
shape (the video stage fills a short last batch so that it does not), so it pays on a long video
or a folder of same-size photos, not on one photo: a 250-frame 384x256 clip took 12 s compiled
(the build from the cache) against 6 s not.

On a CPU Inductor builds C++ and needs a compiler (``$CXX``, g++ or clang++); on CUDA it needs
Triton. Where that is missing the network runs as it is, said in one line.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import warnings

import torch
from torch import nn

CPU_COMPILERS = ("g++", "clang++", "c++")


def why_not_compiled(device: torch.device) -> str | None:
    """Why ``torch.compile`` cannot build for ``device`` here; None when it can."""
    if device.type == "cpu":
        wanted = [os.environ["CXX"]] if os.environ.get("CXX") else list(CPU_COMPILERS)
        if not any(shutil.which(name) for name in wanted):
            return f"no C++ compiler found ({' or '.join(wanted)})"
        return None
    if device.type == "cuda":
        return None if importlib.util.find_spec("triton") else "Triton is not installed"
    return f"torch.compile does not build for {device.type} here"


def compile_network(model: nn.Module, device: torch.device) -> nn.Module:
    """``model`` compiled for inference on ``device``; ``model`` itself, with one warning line,
    where it cannot be. The compiled module shares the model's parameters and attributes.

    Shapes are specialised first and made dynamic after a recompile (torch's default), so a
    video compiles once and a folder of mixed sizes does not compile for every size.
    """
    reason = why_not_compiled(device)
    if reason is not None:
        warnings.warn(f"--compile: {reason}; running the network uncompiled", stacklevel=2)
        return model
    # Not frozen (torch._inductor.config.freezing), though that folds the weights in and was
    # 4% faster at 1024 px: once a new size makes the compilation dynamic, freezing fails to
    # build (torch 2.14).
    return torch.compile(model)


def is_compiled(model: nn.Module) -> bool:
    """True for what :func:`compile_network` compiled (for a run's record).

    Told by the wrapped original torch.compile keeps: naming ``torch._dynamo``'s class would
    import it (0.7 s) into every run that never compiles."""
    return isinstance(getattr(model, "_orig_mod", None), nn.Module)
