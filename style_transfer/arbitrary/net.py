"""The arbitrary-style network: encoder, AdaIN to the chosen style(s), decoder, in one module.

    from style_transfer.arbitrary.net import ArbitraryNet
    net = ArbitraryNet(encoder, decoder, "efficientnet_lite0")
    net.set_styles([painting], weights=None, alpha=1.0)  # paintings: (3, H, W) in [0, 1]
    y = net(photo)                       # (B, 3, H, W) in [0, 1] -> the same size, stylised

Once its styles are set the module maps photos to photos like a Johnson network, so every path
built for those (batches, tiles with whole-image statistics, folders, torchrun shards, colour
preservation, precision) runs it unchanged: the AdaIN layer is an instance norm
(:class:`~style_transfer.arbitrary.adain.StyleNorm`). Photos are reflection-padded to a multiple of
the encoder's stride and the result cropped back, so any size comes out at its own size.

``alpha`` below 1 interpolates the features (Huang & Belongie) and also gives back, in proportion
to ``1 - alpha``, what the decoder misses when it rebuilds the photo from the photo's own
features: a second decoder pass, and alpha 0 returns the photo itself rather than the decoder's
blurred reconstruction of it.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from style_transfer.arbitrary.adain import StyleNorm, blend_statistics, channel_statistics
from style_transfer.arbitrary.decoder import Decoder
from style_transfer.arbitrary.encoder import ENCODERS
from style_transfer.images import fit_size, resize
from style_transfer.loss_network import LossNetwork

DEFAULT_STYLE_SIDE = 256  # px, longer side a painting is encoded at (the training size)


class ArbitraryNet(nn.Module):
    def __init__(self, encoder: LossNetwork, decoder: Decoder, backbone: str) -> None:
        super().__init__()
        self.spec = ENCODERS[backbone]
        self.backbone = backbone
        self.encoder, self.decoder = encoder, decoder
        self.norm = StyleNorm(self.spec.channels)

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """Features at the AdaIN layer, in the decoder's dtype."""
        feats = self.encoder(x, layers=[self.spec.adain_layer])[self.spec.adain_layer]
        return feats.to(self.norm.weight.dtype)

    @torch.no_grad()
    def set_styles(
        self,
        paintings: Sequence[torch.Tensor],
        weights: Sequence[float] | None = None,
        alpha: float = 1.0,
        style_side: int = DEFAULT_STYLE_SIDE,
    ) -> None:
        """Encode each painting (longer side ``style_side`` px) and set the blend of their
        statistics, weights scaled to sum to 1, as the AdaIN target."""
        stats = []
        device = self.norm.weight.device
        for painting in paintings:
            p = painting.float().to(device)
            p = resize(p, fit_size(*p.shape[-2:], style_side))
            stats.append(
                channel_statistics(
                    self.encode(_padded(p[None].to(self.norm.weight.dtype), self.spec.stride))
                )
            )
        self.norm.set_style(blend_statistics(stats, weights), alpha)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.norm.alpha == 0:  # the two decoder passes below would cancel exactly
            return x.to(self.norm.weight.dtype).clamp(0, 1)
        h, w = x.shape[-2:]
        padded = _padded(x, self.spec.stride)
        features = self.encode(padded)
        y = self.decoder(self.norm(features))
        keep = 1.0 - self.norm.alpha
        if keep:
            # What the decoder cannot rebuild of the photo from its own features (fine detail
            # the 1/8-scale map does not hold), given back in proportion to 1 - alpha: alpha 0
            # is then the photo itself, and every alpha between keeps more of its detail.
            y = (y + keep * (padded.to(y.dtype) - self.decoder(features))).clamp(0, 1)
        return y[..., :h, :w]

    def peak_bytes_per_pixel(self) -> int:
        """Float32 bytes per input pixel at the peak (the decoder's full-scale end, the
        encoder's stem), with a margin."""
        return self.decoder.peak_bytes_per_pixel() + 4 * 3 * 8


def _padded(x: torch.Tensor, multiple: int) -> torch.Tensor:
    h, w = x.shape[-2:]
    return F.pad(x, (0, (-w) % multiple, 0, (-h) % multiple), mode="reflect")
