"""shared.device: device choice, mixed precision and memory format."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from shared.device import (
    amp_dtype,
    autocast,
    describe,
    make_scaler,
    pick_device,
    to_channels_last,
)
from shared.errors import UserError


def test_pick_device_on_a_cpu_machine():
    assert pick_device("cpu") == torch.device("cpu")
    assert pick_device(None).type in ("cuda", "mps", "cpu")
    if not torch.cuda.is_available():
        with pytest.raises(UserError, match="no CUDA device"):
            pick_device("cuda")
        if not torch.backends.mps.is_available():
            assert pick_device("auto") == torch.device("cpu")
    with pytest.raises(UserError, match="unknown device 'tpu'"):
        pick_device("tpu")


def test_autocast_is_bf16_on_cpu_and_off_when_disabled():
    cpu = torch.device("cpu")
    a, b = torch.randn(4, 4), torch.randn(4, 4)
    with autocast(cpu, enabled=True):
        assert (a @ b).dtype == torch.bfloat16
    with autocast(cpu, enabled=False):
        assert (a @ b).dtype == torch.float32
    assert amp_dtype(cpu) == torch.bfloat16
    assert amp_dtype(torch.device("cuda")) == torch.float16


def test_grad_scaler_only_where_fp16_needs_it():
    assert not make_scaler(torch.device("cpu"), enabled=True).is_enabled()
    loss = torch.tensor(2.0, requires_grad=True)
    assert make_scaler(torch.device("cpu"), enabled=True).scale(loss) is loss  # a pass-through


def test_channels_last_and_describe():
    model = nn.Conv2d(3, 8, 3)
    assert to_channels_last(model, enabled=False).weight.is_contiguous()
    model = to_channels_last(model, enabled=True)
    assert model.weight.is_contiguous(memory_format=torch.channels_last)
    assert not model.weight.is_contiguous()
    torch.set_num_threads(1)
    assert describe(torch.device("cpu")) == "cpu (1 thread)"
    torch.set_num_threads(2)
    assert describe(torch.device("cpu")) == "cpu (2 threads)"
