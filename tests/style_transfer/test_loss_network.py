"""The loss network: torchvision's layer indices, frozen weights, cut, pooling, normalisation."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from shared import backbones
from style_transfer.gatys.config import PAPER_BACKBONE
from style_transfer.johnson.loss import resolve_loss_backbone
from style_transfer.loss_network import (
    PRESETS,
    alexnet_layer_names,
    build_loss_network,
    resolve_backbone,
    vgg_layer_names,
)

# Indices into torchvision's vgg19().features, counted from the architecture (conv-relu pairs,
# a pool closing each block: 2, 2, 4, 4, 4 convolutions).
VGG19_INDEX = {
    "conv1_1": 0,
    "relu1_1": 1,
    "relu2_1": 6,
    "relu3_1": 11,
    "relu4_1": 20,
    "conv4_2": 21,
    "relu4_2": 22,
    "relu5_1": 29,
    "pool5": 36,
}
VGG16_INDEX = {"relu4_2": 20, "relu5_1": 25, "pool5": 30}


def test_vgg_names_match_torchvision_indices(classifiers) -> None:
    for model, expected in (
        (classifiers["vgg19"], VGG19_INDEX),
        (classifiers["vgg16"], VGG16_INDEX),
    ):
        names = vgg_layer_names(model.features)
        assert len(names) == len(model.features)
        assert {n: names.index(n) for n in expected} == expected


def test_relu4_2_output_equals_torchvision_slice(classifiers) -> None:
    """Our relu4_2 is torchvision's features[:23] on the ImageNet-normalised image."""
    tv = classifiers["vgg19"]
    net = build_loss_network("vgg19", layers=["relu4_2"], pooling="max", model=tv)
    x = torch.rand(1, 3, 40, 48)
    mean = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
    std = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)
    with torch.no_grad():
        expected = tv.features[:23]((x - mean) / std)
        torch.testing.assert_close(net(x)["relu4_2"], expected)
    assert len(net.body) == 23  # cut right after the last layer in use


def test_alexnet_names(classifiers) -> None:
    names = alexnet_layer_names(classifiers["alexnet"].features)
    assert names == [
        "conv1",
        "relu1",
        "pool1",
        "conv2",
        "relu2",
        "pool2",
        "conv3",
        "relu3",
        "conv4",
        "relu4",
        "conv5",
        "relu5",
        "pool5",
    ]


@pytest.mark.parametrize("backbone", list(PRESETS))
def test_frozen_eval_and_presets(classifiers, backbone: str) -> None:
    net = build_loss_network(backbone, model=classifiers[backbone])
    assert not any(p.requires_grad for p in net.parameters())
    net.train()
    assert not net.training and not any(m.training for m in net.modules())
    preset = PRESETS[backbone]
    wanted = {*preset.content, *(n for n, _ in preset.style)}
    assert set(net.outputs) == wanted
    assert net.layer_names[-1] in wanted  # nothing computed past the deepest layer in use
    x = torch.rand(1, 3, 64, 80, requires_grad=True)
    feats = net(x)
    assert set(feats) == wanted
    sum(f.pow(2).mean() for f in feats.values()).backward()
    assert x.grad is not None and torch.isfinite(x.grad).all()
    assert all(p.grad is None for p in net.parameters())


def test_building_does_not_touch_the_given_model(classifiers) -> None:
    model = classifiers["vgg19"]
    build_loss_network("vgg19", model=model, layers=["relu1_1"])
    assert all(p.requires_grad for p in model.features.parameters())
    assert isinstance(model.features[4], nn.MaxPool2d)


def test_pooling_flag_swaps_max_for_average(classifiers) -> None:
    avg = build_loss_network("vgg19", model=classifiers["vgg19"], layers=["relu2_1"], pooling="avg")
    mx = build_loss_network("vgg19", model=classifiers["vgg19"], layers=["relu2_1"], pooling="max")
    assert isinstance(avg.body.pool1, nn.AvgPool2d) and isinstance(mx.body.pool1, nn.MaxPool2d)
    x = torch.rand(1, 3, 32, 32)
    assert not torch.allclose(avg(x)["relu2_1"], mx(x)["relu2_1"])


def test_auto_pooling_is_max_only_for_random_classics(classifiers) -> None:
    assert build_loss_network("vgg19", model=classifiers["vgg19"]).pooling == "max"
    assert build_loss_network("alexnet", model=classifiers["alexnet"]).pooling == "max"
    eff = build_loss_network("efficientnet_lite0", model=classifiers["efficientnet_lite0"])
    assert eff.pooling == "avg" and eff.body.stem.dense
    classifiers["vgg19"].pretrained = True  # as if ImageNet weights had been loaded
    try:
        assert build_loss_network("vgg19", model=classifiers["vgg19"]).pooling == "avg"
    finally:
        classifiers["vgg19"].pretrained = False


def test_requested_conv_output_is_not_overwritten_by_inplace_relu(classifiers) -> None:
    net = build_loss_network("vgg19", model=classifiers["vgg19"], layers=["conv1_1", "relu1_1"])
    feats = net(torch.rand(1, 3, 32, 32))
    assert (feats["conv1_1"] < 0).any()  # a ReLU applied in place would have zeroed these
    torch.testing.assert_close(feats["relu1_1"], feats["conv1_1"].clamp_min(0))


def test_efficientnet_folded_network_matches_the_classifier(classifiers) -> None:
    """max pooling keeps the trained strided network: same features as the registry model."""
    model = classifiers["efficientnet_lite0"].eval()
    net = build_loss_network("efficientnet_lite0", model=model, pooling="max")
    assert net.pretrained and net.outputs == ("block7", "stem", "block0", "block2", "block4")
    spec = backbones.get_spec("efficientnet_lite0")
    assert spec.mean == pytest.approx((0.498,) * 3, abs=1e-3)
    x = torch.rand(1, 3, 48, 72)
    with torch.no_grad():
        ref = model.stem((x - net.mean) / net.std)
        feats = net(x)
        torch.testing.assert_close(feats["stem"], ref, atol=1e-4, rtol=1e-4)
        for i in range(8):
            ref = model.blocks[i](ref)
        torch.testing.assert_close(feats["block7"], ref, atol=1e-3, rtol=1e-3)
    dense = build_loss_network("efficientnet_lite0", model=model, pooling="avg")(x)
    assert dense["block7"].shape == feats["block7"].shape == (1, 80, 3, 5)


@pytest.mark.parametrize(
    ("backbone", "side"), [("vgg19", 32), ("alexnet", 47), ("efficientnet_lite0", 17)]
)
def test_min_side_is_the_smallest_size_with_2x2_maps(classifiers, backbone: str, side: int) -> None:
    net = build_loss_network(backbone, model=classifiers[backbone])
    assert net.min_side() == side
    with torch.no_grad():
        deepest = net(torch.zeros(1, 3, side, side))[net.layer_names[-1]]
    assert min(deepest.shape[-2:]) >= 2


def test_auto_backbone_is_efficientnet_without_vgg_weights() -> None:
    # The test suite runs with an empty TORCH_HOME: no VGG19 weights offline.
    assert not backbones.weights_available("vgg19")
    assert resolve_backbone("auto", paper=PAPER_BACKBONE) == "efficientnet_lite0"
    assert resolve_backbone("alexnet", paper=PAPER_BACKBONE) == "alexnet"
    with pytest.raises(ValueError, match="unknown loss network"):
        resolve_backbone("resnet50", paper=PAPER_BACKBONE)
    with pytest.raises(ValueError, match="unknown loss network 'auto'"):
        build_loss_network("auto")  # each method resolves auto with its paper's VGG


def test_auto_is_one_rule_with_each_papers_vgg(monkeypatch) -> None:
    """Gatys's paper used VGG19, Johnson's VGG16: each when its weights are there, else
    EfficientNet-Lite0."""
    cached: set[str] = set()
    monkeypatch.setattr(backbones, "weights_available", lambda name: name in cached)

    def gatys_and_johnson() -> tuple[str, str]:
        return resolve_backbone("auto", paper=PAPER_BACKBONE), resolve_loss_backbone("auto")

    assert gatys_and_johnson() == ("efficientnet_lite0", "efficientnet_lite0")
    cached.add("vgg16")
    assert gatys_and_johnson() == ("efficientnet_lite0", "vgg16")
    cached.add("vgg19")
    assert gatys_and_johnson() == ("vgg19", "vgg16")
    with pytest.raises(ValueError, match="unknown loss network 'alexnet'"):
        resolve_loss_backbone("alexnet")  # no Johnson layers chosen for it


def test_unknown_layer_is_a_clear_error(classifiers) -> None:
    with pytest.raises(ValueError, match="no layer relu9_9"):
        build_loss_network("vgg19", model=classifiers["vgg19"], layers=["relu9_9"])


def test_compute_in_converts_the_layers_and_gives_float32_features() -> None:
    net = build_loss_network("efficientnet_lite0", pretrained="yes")
    image = torch.rand(1, 3, 48, 40, generator=torch.Generator().manual_seed(3))
    before = net(image)
    assert net.compute_in(torch.float32)(image).keys() == before.keys()
    assert all(torch.equal(before[n], f) for n, f in net(image).items())  # float32: untouched
    net.compute_in(torch.bfloat16)
    assert net.dtype == torch.bfloat16 and net.mean.dtype == torch.float32
    low = net(image)
    for name, f in low.items():
        assert f.dtype == torch.float32  # Gram matrices and losses sum in float32
        assert (f - before[name]).norm() <= 0.05 * before[name].norm()  # measured: 0.5-2.6%
        assert not torch.equal(f, before[name])
    assert net.min_side() >= 2  # the shape probe runs on the converted layers too
