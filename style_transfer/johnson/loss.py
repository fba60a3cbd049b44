"""Johnson et al.'s perceptual training loss for one style: content + style + total variation.

    from style_transfer.johnson.loss import PerceptualLoss, build_perceptual_loss
    loss_fn = build_perceptual_loss(
        style_image, backbone="auto", content_weight=1.0, style_weight=2.0, tv_weight=1.0
    )
    loss, parts = loss_fn(photos, net(photos))      # parts: {"content":, "style":, "tv":}

The loss network is VGG16 as in the paper (content at ``relu2_2``; style at ``relu1_2``,
``relu2_2``, ``relu3_3``, ``relu4_3``) when its ImageNet weights load offline, else
EfficientNet-Lite0 with its real weights, at the same strides: content at ``block2`` (1/4, like
relu2_2), style at ``block0``, ``block2``, ``block4``, ``block7`` (1/2 ... 1/16).

- The style image's Gram matrices are computed once, here, not every batch.
- The content target (the photos' own features) is computed only up to the content layer:
  pytorch/examples runs the whole network on the photo batch and uses one shallow layer of it.
- Per-layer normalisation as for Gatys (:mod:`style_transfer.losses`): each layer's
  distance is taken between maps divided by the target's mean magnitude, and style layer weights
  sum to 1, so the weights below mean the same for every loss network.
- The distances are computed in float32 even under mixed precision: Gram matrices sum H*W
  products, which overflow float16.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch
from torch import nn

from shared.errors import UserError
from style_transfer.loss_network import (
    LayerPreset,
    LossNetwork,
    build_loss_network,
    resolve_backbone,
)
from style_transfer.losses import (
    content_loss,
    gram_matrix,
    magnitude,
    style_loss,
    total_variation_loss,
)

_VGG = LayerPreset(
    ("relu2_2",), (("relu1_2", 1.0), ("relu2_2", 1.0), ("relu3_3", 1.0), ("relu4_3", 1.0))
)
JOHNSON_LAYERS: dict[str, LayerPreset] = {
    "vgg16": _VGG,
    "vgg19": _VGG,
    "efficientnet_lite0": LayerPreset(
        ("block2",), (("block0", 1.0), ("block2", 1.0), ("block4", 1.0), ("block7", 1.0))
    ),
}
LOSS_BACKBONES = ("auto", *JOHNSON_LAYERS)


PAPER_BACKBONE = "vgg16"  # Johnson et al.'s loss network


def resolve_loss_backbone(name: str) -> str:
    """The loss network ``name`` stands for: ``auto`` as for every method
    (:func:`~style_transfer.loss_network.resolve_backbone`), with the paper's VGG16."""
    return resolve_backbone(name, paper=PAPER_BACKBONE, choices=LOSS_BACKBONES)


def named_style_weights(backbone: str, weights: Sequence[float] | None) -> dict[str, float] | None:
    """``weights``, one per style layer of ``backbone``'s Johnson preset (shallow to deep), by
    layer name; None stays None (the preset's own)."""
    if weights is None:
        return None
    layers = [name for name, _ in JOHNSON_LAYERS[resolve_loss_backbone(backbone)].style]
    if len(layers) != len(weights):
        raise UserError(
            f"style_layer_weights: {len(weights)} given, but the {backbone} loss network has "
            f"{len(layers)} style layers ({', '.join(layers)})"
        )
    return dict(zip(layers, map(float, weights), strict=True))


class PerceptualLoss(nn.Module):
    """``forward(photos, stylised) -> (loss, {"content", "style", "tv"})``, weighted terms."""

    def __init__(
        self,
        net: LossNetwork,
        style_image: torch.Tensor,
        *,
        content_layer: str,
        style_layers: Mapping[str, float],
        content_weight: float,
        style_weight: float,
        tv_weight: float,
        normalize: bool = True,
    ) -> None:
        super().__init__()
        total = sum(style_layers.values())
        if total <= 0:
            raise ValueError("style layer weights must sum to a positive number")
        self.net, self.content_layer, self.normalize = net, content_layer, normalize
        self.style_layers = {k: v / total for k, v in style_layers.items()}
        self.weights = (content_weight, style_weight, tv_weight)
        with torch.no_grad():
            style = style_image.to(net.mean.device)[None]
            feats = net(style, layers=list(self.style_layers))
            self.grams = {n: gram_matrix(f.float()) for n, f in feats.items()}
        self.style_scales = {n: magnitude(g) if normalize else 1.0 for n, g in self.grams.items()}

    def content_target(self, photos: torch.Tensor) -> torch.Tensor:
        """The photos' features at the content layer; the network stops there."""
        with torch.no_grad():
            return self.net(photos, layers=[self.content_layer])[self.content_layer]

    def forward(
        self, photos: torch.Tensor, stylised: torch.Tensor
    ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        target = self.content_target(photos)
        feats = self.net(stylised)
        with torch.autocast(stylised.device.type, enabled=False):
            target = target.float()
            scale = magnitude(target) if self.normalize else 1.0
            c = content_loss(feats[self.content_layer].float(), target, scale=scale)
            style_feats = {n: feats[n].float() for n in self.style_layers}
            s = style_loss(style_feats, self.grams, self.style_layers, scales=self.style_scales)
            tv = total_variation_loss(stylised.float())
        cw, sw, tw = self.weights
        c, s, tv = cw * c, sw * s, tw * tv
        return c + s + tv, {"content": c.detach(), "style": s.detach(), "tv": tv.detach()}


def build_perceptual_loss(
    style_image: torch.Tensor,
    *,
    backbone: str = "auto",
    pooling: str = "auto",
    device: torch.device | str = "cpu",
    content_weight: float,
    style_weight: float,
    tv_weight: float,
    content_layer: str | None = None,
    style_layers: Mapping[str, float] | None = None,
    layer_weights: Sequence[float] | None = None,
) -> PerceptualLoss:
    """The loss for ``style_image`` (3, h, w) in [0, 1], with ``backbone``'s Johnson layers.

    ``layer_weights``: one per style layer of the preset, shallow to deep, in place of its own
    (``style_layers`` names other layers instead). The weights have no defaults here: a training
    run's come from its :class:`~style_transfer.johnson.recipe.JohnsonSettings`.

    ``auto`` pretrained weights: ImageNet weights where they load offline, as Gatys' ``auto``.
    """
    name = resolve_loss_backbone(backbone)
    preset = JOHNSON_LAYERS[name]
    content_layer = content_layer or preset.content[0]
    style_layers = dict(style_layers or named_style_weights(name, layer_weights) or preset.style)
    net = build_loss_network(
        name,
        pretrained="auto",
        pooling=pooling,
        layers=list(dict.fromkeys([content_layer, *style_layers])),
        device=device,
    )
    return PerceptualLoss(
        net,
        style_image,
        content_layer=content_layer,
        style_layers=style_layers,
        content_weight=content_weight,
        style_weight=style_weight,
        tv_weight=tv_weight,
    )
