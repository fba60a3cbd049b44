"""The baseline transformation network: the paper's layers, built plainly, computing ours.

.venv/bin/python -m pytest tests/labs/baselines/test_johnson_net.py -q
"""

from __future__ import annotations

import pytest
import torch
from torch import nn

from labs.baselines.johnson_net import (
    JohnsonNet,
    baseline_key,
    from_transformer_net,
    load_transformer_net_state,
)
from style_transfer.johnson.net import NetConfig, TransformerNet, channels_last, to_inference

SMALL = NetConfig(widths=(8, 16, 32), residual_blocks=2)


def convolutions(net: nn.Module) -> list[tuple[int, int, int, int]]:
    return [
        (m.in_channels, m.out_channels, m.kernel_size[0], m.stride[0])
        for m in net.modules()
        if isinstance(m, nn.Conv2d)
    ]


def test_default_network_has_the_papers_layers() -> None:
    net = JohnsonNet()
    residual = [(128, 128, 3, 1)] * 10  # five blocks of two convolutions
    assert convolutions(net) == [
        (3, 32, 9, 1),
        (32, 64, 3, 2),
        (64, 128, 3, 2),
        *residual,
        (128, 64, 3, 1),
        (64, 32, 3, 1),
        (32, 3, 9, 1),
    ]
    assert [m.upsample for m in net.up] == [True, True]
    assert (
        sum(p.numel() for p in net.parameters())
        == 1_679_235
        == sum(p.numel() for p in TransformerNet().parameters())
    )


def test_built_from_plain_layers_only() -> None:
    layers = [m for m in JohnsonNet().modules() if not list(m.children())]
    assert {type(m) for m in layers} == {nn.Conv2d, nn.InstanceNorm2d}
    norms = [m for m in layers if isinstance(m, nn.InstanceNorm2d)]
    assert len(norms) == 15 and all(m.affine and not m.track_running_stats for m in norms)
    assert all(p.dtype == torch.float32 for p in JohnsonNet().parameters())


@pytest.mark.parametrize("shape", [(2, 3, 28, 44), (1, 3, 30, 45), (1, 3, 338, 13), (1, 3, 8, 8)])
def test_same_output_as_ours_for_the_same_weights(shape: tuple[int, ...]) -> None:
    torch.manual_seed(3)
    ours = TransformerNet(SMALL).eval()
    baseline = from_transformer_net(ours)
    x = torch.rand(*shape)
    with torch.no_grad():
        expected = ours(x)
        got = baseline(x)
        fast = to_inference(ours, "cpu")(channels_last(x))  # ours as it runs: channels_last
    assert got.shape == x.shape
    assert got.min().item() >= 0.0 and got.max().item() <= 1.0
    assert (got - expected).abs().max().item() < 1e-5
    assert (fast - got).abs().max().item() < 1e-4


def test_default_widths_agree_with_ours_too() -> None:
    ours = TransformerNet().eval()
    x = torch.rand(1, 3, 36, 52)
    with torch.no_grad():
        assert (from_transformer_net(ours)(x) - ours(x)).abs().max().item() < 1e-5


def test_the_copy_is_independent_of_ours() -> None:
    ours = TransformerNet(SMALL)
    baseline = from_transformer_net(ours)
    with torch.no_grad():
        ours.conv1.conv2d.weight.add_(1.0)
    assert not torch.equal(baseline.down[0].conv.weight, ours.conv1.conv2d.weight)


def test_every_parameter_of_ours_has_one_place() -> None:
    ours = TransformerNet().state_dict()
    mapped = [baseline_key(k) for k in ours]
    assert sorted(mapped) == sorted(JohnsonNet().state_dict())
    assert baseline_key("res5.conv2.conv2d.bias") == "residual.4.conv.bias"
    assert baseline_key("in5.weight") == "up.1.norm.weight"
    with pytest.raises(KeyError):
        baseline_key("conv9.conv2d.weight")


def test_a_state_dict_of_other_widths_is_refused() -> None:
    with pytest.raises(RuntimeError, match="size mismatch"):
        load_transformer_net_state(JohnsonNet(), TransformerNet(SMALL).state_dict())
