"""AdaIN's statistics and blends, on tensors whose answers are worked out by hand."""

from __future__ import annotations

import pytest
import torch

from shared.errors import UserError
from style_transfer.arbitrary.adain import (
    EPS,
    StyleNorm,
    adain,
    blend_statistics,
    channel_statistics,
    style_weights,
)


def hand_made() -> torch.Tensor:
    """(1, 2, 2, 2): channel 0 holds 1, 3, 5, 7 (mean 4, variance 5); channel 1 is constant 2."""
    return torch.tensor([[[[1.0, 3.0], [5.0, 7.0]], [[2.0, 2.0], [2.0, 2.0]]]])


def test_channel_statistics_of_a_hand_made_tensor() -> None:
    mean, std = channel_statistics(hand_made())
    assert mean.flatten().tolist() == pytest.approx([4.0, 2.0])
    assert std.flatten().tolist() == pytest.approx([(5 + EPS) ** 0.5, EPS**0.5])


def test_adain_gives_the_style_statistics_and_keeps_the_layout() -> None:
    x = hand_made()
    mean, std = (
        torch.tensor([10.0, -1.0]).view(1, 2, 1, 1),
        torch.tensor([2.0, 3.0]).view(1, 2, 1, 1),
    )
    y = adain(x, mean, std)
    # channel 0: (v - 4) / sqrt(5) * 2 + 10; channel 1 has no variation, so it becomes the mean
    expected0 = [(v - 4) / (5 + EPS) ** 0.5 * 2 + 10 for v in (1.0, 3.0, 5.0, 7.0)]
    assert y[0, 0].flatten().tolist() == pytest.approx(expected0, rel=1e-5)
    assert y[0, 1].flatten().tolist() == pytest.approx([-1.0] * 4)
    got_mean, got_std = channel_statistics(y)
    assert got_mean.flatten()[0].item() == pytest.approx(10.0)
    assert got_std.flatten()[0].item() == pytest.approx(2.0, rel=1e-4)


def test_weights_are_scaled_to_sum_to_one_and_bad_ones_refused() -> None:
    assert style_weights(None, 4) == [0.25] * 4
    assert style_weights([3, 1], 2) == [0.75, 0.25]
    assert sum(style_weights([0.2, 0.7, 0.4], 3)) == pytest.approx(1.0)
    for bad in ([1.0], [-1.0, 2.0], [0.0, 0.0]):
        with pytest.raises(UserError):
            style_weights(bad, 2)


def test_a_blend_of_statistics_is_the_blend_of_the_adain_results() -> None:
    torch.manual_seed(0)
    content, a, b = torch.randn(1, 3, 5, 5), torch.randn(1, 3, 4, 4) * 3 + 1, torch.rand(1, 3, 6, 6)
    sa, sb = channel_statistics(a), channel_statistics(b)
    blended = adain(content, *blend_statistics([sa, sb], [0.3, 0.7]))
    separately = 0.3 * adain(content, *sa) + 0.7 * adain(content, *sb)
    torch.testing.assert_close(blended, separately, rtol=1e-5, atol=1e-5)
    # unnormalised weights mean the same blend
    torch.testing.assert_close(
        blend_statistics([sa, sb], [3, 7])[1], blend_statistics([sa, sb], [0.3, 0.7])[1]
    )
    # one style at weight 1 is that style
    torch.testing.assert_close(
        adain(content, *blend_statistics([sa, sb], [1, 0])), adain(content, *sa)
    )


def test_the_adain_layer_at_alpha_one_zero_and_between() -> None:
    torch.manual_seed(1)
    x, style = torch.randn(2, 3, 6, 7), torch.randn(1, 3, 5, 5) * 2 - 1
    stats = channel_statistics(style)
    norm = StyleNorm(3).eval()
    norm.set_style(stats, alpha=1.0)
    torch.testing.assert_close(norm(x), adain(x, *stats), rtol=1e-4, atol=1e-4)
    norm.set_style(stats, alpha=0.0)
    assert torch.equal(norm(x), x)
    norm.set_style(stats, alpha=0.25)
    torch.testing.assert_close(norm(x), 0.75 * x + 0.25 * adain(x, *stats), rtol=1e-4, atol=1e-4)
    with pytest.raises(UserError, match="alpha"):
        norm.set_style(stats, alpha=1.5)
