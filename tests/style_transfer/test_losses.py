"""Gram matrix and every loss against values worked out by hand on tiny tensors."""

from __future__ import annotations

import pytest
import torch

from style_transfer.losses import (
    LOSS_CHOICES,
    content_loss,
    distance,
    gram_matrix,
    magnitude,
    style_loss,
    total_variation_loss,
)

# Two channels over a 1x2 map: a = [1, 2], b = [3, 4].
FEATS = torch.tensor([[[[1.0, 2.0]], [[3.0, 4.0]]]])


def test_gram_matrix_by_hand() -> None:
    # <a,a> = 5, <a,b> = 11, <b,b> = 25; divided by C*H*W = 2*1*2 = 4.
    expected = torch.tensor([[[5.0, 11.0], [11.0, 25.0]]]) / 4
    torch.testing.assert_close(gram_matrix(FEATS), expected)


def test_gram_matrix_is_per_image_and_symmetric() -> None:
    x = torch.randn(3, 4, 5, 6)
    g = gram_matrix(x)
    assert g.shape == (3, 4, 4)
    torch.testing.assert_close(g, g.transpose(1, 2))
    torch.testing.assert_close(g[1], gram_matrix(x[1:2])[0])


# x - target = [0.5, -2, 3, 0]: the four distances, each a mean over the 4 elements.
X = torch.tensor([1.5, 0.0, 3.0, 1.0])
T = torch.tensor([1.0, 2.0, 0.0, 1.0])
BY_HAND = {
    "mse": (0.25 + 4 + 9 + 0) / 4,
    "l1": (0.5 + 2 + 3 + 0) / 4,
    # smooth L1 / Huber with beta = delta = 1: 0.5 d^2 inside |d| < 1, |d| - 0.5 outside.
    "smooth_l1": (0.125 + 1.5 + 2.5 + 0) / 4,
    "huber": (0.125 + 1.5 + 2.5 + 0) / 4,
}


@pytest.mark.parametrize("kind", LOSS_CHOICES)
def test_distance_by_hand(kind: str) -> None:
    assert distance(X, T, kind).item() == pytest.approx(BY_HAND[kind])


def test_unknown_distance_raises() -> None:
    with pytest.raises(ValueError, match="unknown loss"):
        distance(X, T, "l3")


@pytest.mark.parametrize("kind", LOSS_CHOICES)
def test_content_loss_by_hand(kind: str) -> None:
    assert content_loss(X, T, kind).item() == pytest.approx(BY_HAND[kind])


def test_content_loss_scale_divides_both_sides() -> None:
    # MSE of (x/2, t/2) is a quarter of the MSE of (x, t).
    assert content_loss(X, T, "mse", scale=2.0).item() == pytest.approx(BY_HAND["mse"] / 4)


def test_style_loss_is_the_weighted_sum_over_layers() -> None:
    feats = {"a": FEATS, "b": 2 * FEATS}
    targets = {"a": torch.zeros(1, 2, 2), "b": gram_matrix(FEATS)}
    g = gram_matrix(FEATS)
    # Layer a: mean(g^2); layer b: gram(2F) = 4g, so mean((4g - g)^2) = 9 mean(g^2).
    mean_sq = g.pow(2).mean().item()
    loss = style_loss(feats, targets, {"a": 0.25, "b": 2.0}, "mse")
    assert loss.item() == pytest.approx(0.25 * mean_sq + 2.0 * 9 * mean_sq)


def test_style_loss_l1_and_layer_scales() -> None:
    g = gram_matrix(FEATS)  # [[1.25, 2.75], [2.75, 6.25]]
    target = torch.zeros(1, 2, 2)
    l1 = style_loss({"a": FEATS}, {"a": target}, {"a": 1.0}, "l1")
    assert l1.item() == pytest.approx((1.25 + 2.75 + 2.75 + 6.25) / 4)
    scaled = style_loss({"a": FEATS}, {"a": target}, {"a": 1.0}, "l1", scales={"a": 2.0})
    assert scaled.item() == pytest.approx(l1.item() / 2)
    assert magnitude(g).item() == pytest.approx(13.0 / 4)


def test_per_layer_normalisation_evens_out_layer_magnitudes() -> None:
    """The same relative error costs the same in a small layer and a 1000x larger one."""
    small = torch.rand(1, 3, 4, 4)
    big = 1000 * small
    t_small, t_big = gram_matrix(small), gram_matrix(big)
    feats = {"s": 1.1 * small, "b": 1.1 * big}
    raw = {n: style_loss(feats, {"s": t_small, "b": t_big}, {n: 1.0}) for n in ("s", "b")}
    assert raw["b"] / raw["s"] == pytest.approx(1000**4, rel=1e-3)
    scales = {"s": magnitude(t_small), "b": magnitude(t_big)}
    norm = {
        n: style_loss(feats, {"s": t_small, "b": t_big}, {n: 1.0}, scales=scales)
        for n in ("s", "b")
    }
    assert norm["b"].item() == pytest.approx(norm["s"].item(), rel=1e-4)


def test_total_variation_by_hand() -> None:
    image = torch.tensor([[[[0.0, 1.0], [3.0, 5.0]]]])
    # vertical diffs |3-0|, |5-1| -> mean 3.5; horizontal |1-0|, |5-3| -> mean 1.5.
    assert total_variation_loss(image).item() == pytest.approx(5.0)
    assert total_variation_loss(torch.ones(1, 3, 8, 8)).item() == 0.0
