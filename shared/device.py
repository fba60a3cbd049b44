"""Pick the compute device once: ``pick_device("auto")`` is cuda, then mps, then cpu.

The precision a workload computes in on it is :mod:`shared.precision`'s.
"""

from __future__ import annotations

import os

import torch
from torch import nn

from shared.errors import UserError

DEVICE_CHOICES = ("auto", "cuda", "mps", "cpu")
DEFAULT_DEVICE = "auto"  # cuda, then mps, then cpu


def pick_device(name: str | None = DEFAULT_DEVICE) -> torch.device:
    """Return the requested device, or the best one available for ``auto``.

    Under ``torchrun`` each process takes the CUDA device of its ``LOCAL_RANK``.
    """
    name = (name or DEFAULT_DEVICE).lower()
    if name == "auto":
        if torch.cuda.is_available():
            name = "cuda"
        elif getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
            name = "mps"
        else:
            name = "cpu"
    if name.startswith("cuda"):
        if not torch.cuda.is_available():
            raise UserError("--device cuda was asked for, but no CUDA device is available")
        if name == "cuda" and "LOCAL_RANK" in os.environ:
            return torch.device("cuda", int(os.environ["LOCAL_RANK"]))
        return torch.device(name)
    if name == "mps" and not torch.backends.mps.is_available():
        raise UserError("--device mps was asked for, but MPS is not available")
    if name not in DEVICE_CHOICES:
        raise UserError(f"unknown device {name!r}; choose one of {', '.join(DEVICE_CHOICES)}")
    return torch.device(name)


def to_channels_last(model: nn.Module, enabled: bool) -> nn.Module:
    """NHWC memory format: faster convolutions on recent GPUs and on CPU with oneDNN."""
    return model.to(memory_format=torch.channels_last) if enabled else model


def describe(device: torch.device) -> str:
    """A short human description for logs: ``cuda:0 (NVIDIA A100)``, ``cpu (2 threads)``."""
    if device.type == "cuda":
        return f"{device} ({torch.cuda.get_device_name(device)})"
    if device.type == "cpu":
        n = torch.get_num_threads()
        return f"cpu ({n} thread{'' if n == 1 else 's'})"
    return str(device)
