"""Johnson's transformer net: any size in and out, the upsampling rewrite, the inference layout.

.venv/bin/python -m pytest tests/style_transfer/johnson/test_net.py -q
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from style_transfer.johnson.net import (
    TransformerNet,
    UpsampleConvLayer,
    channels_last,
    to_inference,
)
from tests.style_transfer.johnson.small_nets import SMALL, small_net

EXPECT = Path(__file__).parents[2] / "expect"


def test_output_keeps_any_input_size() -> None:
    net = small_net()
    for size in [(97, 255), (338, 21), (8, 8), (9, 13), (31, 30)]:
        x = torch.rand(2, 3, *size)
        with torch.no_grad():
            y = net(x)
        assert y.shape == x.shape
        assert y.min().item() >= 0.0 and y.max().item() <= 1.0


def test_default_net_keeps_255x97_and_has_the_papers_size() -> None:
    net = TransformerNet().eval()
    with torch.no_grad():
        assert net(torch.rand(1, 3, 97, 255)).shape == (1, 3, 97, 255)
    assert sum(p.numel() for p in net.parameters()) == 1_679_235  # as pytorch/examples


def test_too_small_input_is_refused() -> None:
    with pytest.raises(ValueError, match="too small"):
        small_net()(torch.rand(1, 3, 7, 40))


def test_inference_layout_gives_the_same_output() -> None:
    """channels_last and the upsampling rewritten as one transposed convolution change nothing.

    (That the network computes the paper's plain layers is tested against the bench's baseline,
    tests/labs/baselines/test_johnson_net.py.)"""
    net = small_net(3)
    x = torch.rand(2, 3, 28, 44)
    with torch.no_grad():
        expected = net(x)
        fast = to_inference(net, "cpu")(channels_last(x))
    assert (fast - expected).abs().max().item() < 1e-4  # channels_last, batch of 2


@pytest.mark.parametrize("size", [(5, 7), (1, 6)])
def test_upsample_conv_is_upsample_then_conv_values_and_gradients(size: tuple[int, int]) -> None:
    layer = UpsampleConvLayer(4, 5)
    x = torch.randn(2, 4, *size, requires_grad=True)
    upsampled = F.interpolate(x, scale_factor=2, mode="nearest")
    expected = layer.conv2d(F.pad(upsampled, (1, 1, 1, 1), mode="reflect"))
    got = layer(x)
    torch.testing.assert_close(got, expected, atol=1e-5, rtol=1e-5)
    g = torch.randn_like(got)
    grads = torch.autograd.grad((got * g).sum(), [x, layer.conv2d.weight])
    expected_grads = torch.autograd.grad((expected * g).sum(), [x, layer.conv2d.weight])
    for a, b in zip(grads, expected_grads, strict=True):
        torch.testing.assert_close(a, b, atol=1e-4, rtol=1e-4)


def test_every_parameter_trains() -> None:
    net = TransformerNet(SMALL).train()
    net(torch.rand(2, 3, 36, 44)).mean().backward()
    for name, p in net.named_parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all(), name
        assert p.grad.abs().sum() > 0, name


def test_golden_output() -> None:
    """A seeded forward pass saved once; catches silent numerical drift.

    Regenerate on purpose only: ``VISIONLAB_REGEN_GOLDEN=1 pytest tests/style_transfer``.
    """
    net = small_net(seed=1234)
    x = torch.rand(1, 3, 22, 30, generator=torch.Generator().manual_seed(99))
    with torch.no_grad():
        y = net(x)
    path = EXPECT / "johnson_small_seeded_output.pt"
    if os.environ.get("VISIONLAB_REGEN_GOLDEN"):
        torch.save(y, path)
    torch.testing.assert_close(y, torch.load(path, weights_only=True), rtol=1e-4, atol=1e-5)
