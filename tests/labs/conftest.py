"""Tiny stand-ins the lab and bench tests share."""

from __future__ import annotations

import pytest
import torch
from torch import nn
from torchvision.models.vgg import make_layers

# VGG-19's layer plan (16 convolutions in blocks of 2, 2, 4, 4, 4, max pooling between them)
# with a few channels per layer: every layer name of the real one, at a fraction of the cost.
TINY_VGG19 = [4, 4, "M", 8, 8, "M", *[8] * 4, "M", *[8] * 4, "M", *[8] * 4, "M"]


@pytest.fixture
def tiny_vgg19() -> nn.Module:
    """A classifier-less model whose ``.features`` is laid out as VGG-19's, randomly initialised."""
    torch.manual_seed(0)
    model = nn.Module()
    model.features = make_layers(TINY_VGG19)
    return model


@pytest.fixture
def one_thread():
    """Tiny tensors: a second thread costs more in hand-offs than it saves."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
