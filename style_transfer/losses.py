"""Losses of optimisation-based style transfer: Gram matrices, content, style, total variation.

    from style_transfer.losses import gram_matrix, content_loss, style_loss
    g = gram_matrix(features)                   # (N, C, C), divided by C*H*W
    loss = style_loss(feats, target_grams, {"relu1_1": 1.0, "relu2_1": 0.5}, kind="l1")

Each distance is one of ``mse`` (the paper's), ``l1``, ``smooth_l1`` or ``huber``. ``scales``
(per layer) implement per-layer normalisation: both sides are divided by the target's mean
magnitude before the distance, so a layer's loss no longer depends on how large its activations
happen to be, and the weights mean what they say. Without it a VGG layer with big activations
outweighs the others by orders of magnitude, which is why the paper's raw weights are 1e3-1e6.
"""

from __future__ import annotations

from collections.abc import Mapping

import torch
import torch.nn.functional as F

LOSS_CHOICES = ("mse", "l1", "smooth_l1", "huber")


def distance(x: torch.Tensor, target: torch.Tensor, kind: str = "mse") -> torch.Tensor:
    """Mean elementwise distance between ``x`` and ``target``."""
    if kind == "mse":
        return F.mse_loss(x, target)
    if kind == "l1":
        return F.l1_loss(x, target)
    if kind == "smooth_l1":
        return F.smooth_l1_loss(x, target, beta=1.0)
    if kind == "huber":
        return F.huber_loss(x, target, delta=1.0)
    raise ValueError(f"unknown loss {kind!r}; choose one of {LOSS_CHOICES}")


def gram_matrix(features: torch.Tensor) -> torch.Tensor:
    """Channel co-activations of (N, C, H, W) features: (N, C, C), normalised by C*H*W."""
    n, c, h, w = features.shape
    flat = features.reshape(n, c, h * w)
    return flat @ flat.transpose(1, 2) / (c * h * w)


def magnitude(target: torch.Tensor) -> torch.Tensor:
    """The scale per-layer normalisation divides by: the target's mean absolute value."""
    return target.detach().abs().mean().clamp_min(1e-12)


def content_loss(
    x: torch.Tensor, target: torch.Tensor, kind: str = "mse", scale: torch.Tensor | float = 1.0
) -> torch.Tensor:
    """Distance between the image's features and the content photo's at one layer."""
    return distance(x / scale, target / scale, kind)


def style_loss(
    features: Mapping[str, torch.Tensor],
    target_grams: Mapping[str, torch.Tensor],
    layer_weights: Mapping[str, float],
    kind: str = "mse",
    scales: Mapping[str, torch.Tensor | float] | None = None,
) -> torch.Tensor:
    """Weighted sum over layers of the distance between Gram matrices."""
    total = features[next(iter(layer_weights))].new_zeros(())
    for name, weight in layer_weights.items():
        scale = 1.0 if scales is None else scales[name]
        g = gram_matrix(features[name])
        total = total + weight * distance(g / scale, target_grams[name].expand_as(g) / scale, kind)
    return total


def total_variation_loss(image: torch.Tensor) -> torch.Tensor:
    """Mean absolute difference between neighbouring pixels (both directions summed)."""
    dh = (image[..., 1:, :] - image[..., :-1, :]).abs().mean()
    dw = (image[..., :, 1:] - image[..., :, :-1]).abs().mean()
    return dh + dw
