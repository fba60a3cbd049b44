"""Grad-CAM maps: the layer they are taken at, their shape and range, where they point."""

from __future__ import annotations

import sys

import numpy as np
import pytest
import torch
from torch import nn

from retinopathy.explain import (
    CaptumMissing,
    grad_cam,
    overlay,
    overlay_names,
    require_captum,
    target_layer,
    to_photo,
)
from shared import backbones
from shared.errors import UserError

LAST_STAGE = {
    "alexnet": "features",
    "efficientnet_lite0": "head",
    "inception_v3": "Mixed_7c",
    "resnet18": "layer4",
    "resnet34": "layer4",
    "resnet50": "layer4",
    "squeezenet1_1": "features",  # not the head, a convolution itself
    "tv_resnet18": "layer4",
    "tv_resnet34": "layer4",
    "tv_resnet50": "layer4",
    "vgg16": "features",
    "vgg19": "features",
}


def test_every_backbone_has_its_expected_stage() -> None:
    assert set(LAST_STAGE) == set(backbones.list_backbones())


@pytest.mark.parametrize("arch", sorted(LAST_STAGE))
def test_target_layer_is_the_last_convolutional_stage(arch: str) -> None:
    spec = backbones.get_spec(arch)
    with torch.device("meta"):  # shapes only: no weights drawn, no arithmetic
        model = backbones.create(arch, 3).eval()
        size = max(spec.min_input_size, 32)
        name, layer = target_layer(model, torch.zeros(1, 3, size, size), spec.head)
    assert name == LAST_STAGE[arch] and layer is model.get_submodule(name)


def test_a_network_without_convolutions_is_a_one_line_error() -> None:
    model = nn.Sequential(nn.Flatten(), nn.Linear(3 * 8 * 8, 2))
    with pytest.raises(UserError, match="no convolutional layer to attribute"):
        target_layer(model, torch.zeros(1, 3, 8, 8))


def _red_detector() -> nn.Sequential:
    """Class 1's logit is the mean of a ReLU'd red channel: its evidence is where red is."""
    net = nn.Sequential(
        nn.Conv2d(3, 1, 1), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(1, 2)
    )
    with torch.no_grad():
        net[0].weight.copy_(torch.tensor([1.0, 0.0, 0.0]).view(1, 3, 1, 1))
        net[0].bias.zero_()
        net[4].weight.copy_(torch.tensor([[-1.0], [1.0]]))
        net[4].bias.zero_()
    return net.eval()


def test_grad_cam_points_at_the_evidence_and_lands_on_the_photo() -> None:
    net = _red_detector()
    image = torch.zeros(1, 3, 16, 16)
    image[0, 0, 5, 6] = 1.0  # a red spot at row 5, column 6
    name, layer = target_layer(net, image)
    assert name == "0"
    grid = grad_cam(net, layer, image, torch.tensor([1]))
    assert grid.shape == (1, 16, 16)
    assert np.unravel_index(grid[0].argmax(), grid[0].shape) == (5, 6)
    heat = to_photo(grid[0], (10, 20, 32), (64, 80))  # the square the model saw, in the photo
    assert heat.shape == (64, 80) and heat.dtype == np.float32
    assert heat.min() == 0 and heat.max() == pytest.approx(1.0)
    row, col = np.unravel_index(heat.argmax(), heat.shape)
    assert 20 + 10 <= row <= 20 + 12 and 10 + 12 <= col <= 10 + 14  # spot x 2, plus the offset
    assert heat[:20].max() == 0 and heat[:, :10].max() == 0  # nothing outside the square
    assert grad_cam(net, layer, image, torch.tensor([0])).max() == 0  # no evidence for class 0


def test_map_shape_and_range_on_a_tiny_network() -> None:
    net = nn.Sequential(
        nn.Conv2d(3, 4, 3, padding=1), nn.ReLU(), nn.Conv2d(4, 6, 3, stride=2), nn.ReLU(),
        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(6, 5),
    ).eval()  # fmt: skip
    images = torch.randn(2, 3, 20, 20)
    name, layer = target_layer(net, images[:1])
    assert name == "2"  # the last convolution (its ReLU holds none)
    grids = grad_cam(lambda x: net(x).softmax(1)[:, 2:].sum(1), layer, images)  # one number each
    assert grids.shape == (2, 9, 9) and grids.min() >= 0
    heat = to_photo(grids[1], (-5, 0, 30), (30, 24))  # a square wider than the photo
    assert heat.shape == (30, 24) and heat.min() >= 0 and heat.max() <= 1


def test_overlay_shows_the_photo_where_the_map_is_cold() -> None:
    photo = np.full((6, 8, 3), 100, np.uint8)
    heat = np.zeros((6, 8), np.float32)
    heat[2, 3] = 1.0
    out = overlay(photo, heat)
    assert out.shape == photo.shape and out.dtype == np.uint8
    assert (out[heat == 0] == 100).all() and (out[2, 3] != 100).any()


def test_overlay_names_stay_apart() -> None:
    assert overlay_names(["a/x.jpg", "b/x.png", "y.jpeg", "x-2.png", "c/x.tif"]) == [
        "explain/x.png",
        "explain/x-2.png",
        "explain/y.png",
        "explain/x-2-2.png",
        "explain/x-3.png",
    ]


def test_without_captum_the_error_names_the_install(monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "captum.attr", None)
    with pytest.raises(CaptumMissing, match="pip install captum"):
        require_captum()
