"""shared.device: device choice and memory format."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from shared.device import describe, pick_device, to_channels_last
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
