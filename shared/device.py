"""Pick the compute device once, and the mixed-precision settings that go with it.

from shared.device import pick_device, autocast, make_scaler
device = pick_device("auto")            # cuda, then mps, then cpu
with autocast(device, enabled=True):    # bf16 on CPU, fp16 on CUDA
    loss = model(x).sum()
"""

from __future__ import annotations

import contextlib
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


def amp_dtype(device: torch.device) -> torch.dtype:
    """fp16 on CUDA (fast tensor cores, needs a GradScaler); bf16 elsewhere (no scaler needed)."""
    return torch.float16 if device.type == "cuda" else torch.bfloat16


def autocast(device: torch.device, enabled: bool) -> contextlib.AbstractContextManager:
    """Mixed-precision context for ``device``; a no-op when disabled."""
    if not enabled:
        return contextlib.nullcontext()
    return torch.autocast(device_type=device.type, dtype=amp_dtype(device))


def make_scaler(device: torch.device, enabled: bool) -> torch.amp.GradScaler:
    """A GradScaler that is active only where fp16 needs it (CUDA with AMP on)."""
    return torch.amp.GradScaler(device.type, enabled=enabled and device.type == "cuda")


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
