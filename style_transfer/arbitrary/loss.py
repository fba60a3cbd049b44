"""The decoder's training loss (Huang & Belongie 2017, section 6), one engine step.

    from style_transfer.arbitrary.loss import AdaINLoss
    loss = AdaINLoss(encoder, spec, style_weight=2.0)
    total, logs = loss(decoder, (photos, paintings))    # the engine's step_fn

Content: the decoded image's features at the AdaIN layer against the AdaIN target ``t`` (not the
photo's features: the decoder is asked to reproduce the renormalised map). Photo: optionally,
the decoded image's features at the encoder's deep ``photo_layer`` against the photo's own, the
content term of Gatys's objective; it keeps the layout AdaIN's renormalisation blurs. Style: at
every style layer, the decoded image's per-channel means and standard deviations against the
painting's.
Each term is divided by its target's mean square, so layers and encoders weigh alike. The first
``own_style_share`` of the batch takes its photo as its own style, and a pixel loss asks for
the photo back: the decoder then inverts the encoder too, which is what alpha 0 needs.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from style_transfer.arbitrary.adain import adain, channel_statistics
from style_transfer.arbitrary.encoder import EncoderSpec
from style_transfer.loss_network import LossNetwork


def relative_mse(x: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    return F.mse_loss(x, target) / target.pow(2).mean().clamp_min(1e-8)


class AdaINLoss:
    def __init__(
        self,
        encoder: LossNetwork,
        spec: EncoderSpec,
        *,
        style_weight: float,
        own_style_share: float = 0.0,
        reconstruction_weight: float = 1.0,
        photo_weight: float = 0.0,
    ) -> None:
        self.encoder, self.spec = encoder, spec
        self.photo_weight = photo_weight
        self.style_weight, self.own_style_share = style_weight, own_style_share
        self.reconstruction_weight = reconstruction_weight

    def own_styles(self, batch: int) -> int:
        """How many samples of a batch take their photo as their style (at least one when the
        share is positive, so small batches learn it too)."""
        if self.own_style_share <= 0:
            return 0
        return max(1, round(self.own_style_share * batch))

    def __call__(
        self, decoder: nn.Module, batch: tuple[torch.Tensor, torch.Tensor]
    ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        photos, paintings = batch
        k = self.own_styles(photos.shape[0])
        paintings = torch.cat([photos[:k], paintings[k:]])
        layer, deep = self.spec.adain_layer, self.spec.photo_layer
        with torch.no_grad():
            # the photos run on to the deep layer only when the photo term asks for it
            content = self.encoder(photos, layers=[layer, deep] if self.photo_weight else [layer])
            style = self.encoder(paintings, layers=self.spec.layers)
            target = adain(content[layer], *channel_statistics(style[layer]))
        decoded = decoder(target)
        feats = self.encoder(decoded, layers=self.spec.layers)
        content_loss = relative_mse(feats[layer], target)
        style_loss = sum(
            relative_mse(got, want)
            for name in self.spec.style_layers
            for got, want in zip(
                channel_statistics(feats[name]), channel_statistics(style[name]), strict=True
            )
        ) / len(self.spec.style_layers)
        total = content_loss + self.style_weight * style_loss
        logs = {"content": content_loss.detach(), "style": style_loss.detach()}
        if self.photo_weight:
            photo_loss = relative_mse(feats[deep], content[deep])
            total = total + self.photo_weight * photo_loss
            logs["photo"] = photo_loss.detach()
        if k:
            pixels = F.mse_loss(decoded[:k], photos[:k])
            total = total + self.reconstruction_weight * pixels / photos[:k].pow(2).mean()
            logs["pixels"] = pixels.detach()
        return total, logs
