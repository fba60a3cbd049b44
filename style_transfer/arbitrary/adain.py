"""Adaptive instance normalisation (Huang & Belongie 2017): a photo's features, renormalised to a
painting's per-channel mean and standard deviation.

    from style_transfer.arbitrary.adain import adain, blend_statistics, channel_statistics
    mean, std = channel_statistics(style_features)          # (N, C, 1, 1) each
    t = adain(content_features, mean, std)                  # content layout, the style's statistics
    blend_statistics([stats_a, stats_b], [0.7, 0.3])        # interpolation between two styles

AdaIN is an affine instance normalisation whose scale and shift are the style's standard
deviation and mean, so :class:`StyleNorm` is the project's instance norm with those as its affine
parameters: everything that instance norm already does right (one set of whole-image statistics
shared by the tiles of a large photo, the channels_last path) holds for AdaIN too.

Blending styles blends their statistics: ``sum_k w_k * AdaIN(f, s_k)`` is ``AdaIN(f)`` with the
weighted mean of the means and of the standard deviations, because AdaIN is linear in both.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from shared.errors import UserError
from style_transfer.johnson.net import InstanceNorm

EPS = 1e-5  # added to the variance, as in instance norm

Statistics = tuple[torch.Tensor, torch.Tensor]  # per-channel mean and standard deviation


def channel_statistics(features: torch.Tensor, eps: float = EPS) -> Statistics:
    """Per-sample, per-channel mean and standard deviation over the positions, (N, C, 1, 1),
    in float32 whatever the features' dtype."""
    var, mean = torch.var_mean(features.float(), dim=(2, 3), keepdim=True, unbiased=False)
    return mean, (var + eps).sqrt()


def adain(content: torch.Tensor, mean: torch.Tensor, std: torch.Tensor) -> torch.Tensor:
    """``content`` normalised per sample and channel, then scaled by ``std`` and shifted by
    ``mean`` (each broadcastable to (N, C, 1, 1))."""
    c_mean, c_std = channel_statistics(content)
    return ((content.float() - c_mean) / c_std * std + mean).to(content.dtype)


def style_weights(weights: Sequence[float] | None, n: int) -> list[float]:
    """``weights`` for ``n`` styles scaled to sum to 1 (None: equal); negative ones, a sum of 0
    or the wrong count are a :class:`UserError`."""
    if weights is None:
        return [1.0 / n] * n
    weights = [float(w) for w in weights]
    if len(weights) != n:
        raise UserError(f"{len(weights)} style weight(s) for {n} style image(s)")
    if min(weights) < 0 or sum(weights) <= 0:
        raise UserError(f"style weights must be >= 0 with a positive sum, not {weights}")
    total = sum(weights)
    return [w / total for w in weights]


def blend_statistics(
    stats: Sequence[Statistics], weights: Sequence[float] | None = None
) -> Statistics:
    """The weighted mean of several styles' (mean, std), weights scaled to sum to 1."""
    w = style_weights(weights, len(stats))
    mean = sum(wk * m for wk, (m, _) in zip(w, stats, strict=True))
    std = sum(wk * s for wk, (_, s) in zip(w, stats, strict=True))
    return mean, std  # type: ignore[return-value]


class StyleNorm(InstanceNorm):
    """AdaIN as a layer: instance norm whose affine scale and shift are a style's standard
    deviation and mean (:meth:`set_style`), blended with the un-normalised input by ``alpha``
    (1: the style's statistics, 0: the photo's own features)."""

    def __init__(self, channels: int) -> None:
        super().__init__(channels)
        self.eps = EPS
        self.alpha = 1.0
        self.requires_grad_(False)

    def set_style(self, stats: Statistics, alpha: float = 1.0) -> None:
        if not 0.0 <= alpha <= 1.0:
            raise UserError(f"alpha must be between 0 and 1, not {alpha}")
        mean, std = stats
        with torch.no_grad():
            self.weight.copy_(std.flatten())
            self.bias.copy_(mean.flatten())
        self.alpha = float(alpha)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.alpha == 1.0:
            return super().forward(x)
        if self.alpha == 0.0:
            return x
        return torch.lerp(x, super().forward(x), self.alpha)
