"""The arbitrary-style network's decoder: encoder features at 1/8 scale back to an RGB image.

    from style_transfer.arbitrary.decoder import Decoder, DecoderConfig
    decoder = Decoder(DecoderConfig(in_channels=40))    # (N, 40, h, w) -> (N, 3, 8h, 8w) in [0, 1]

Huang & Belongie's decoder mirrors VGG up to relu4_1: nearest x2 upsampling (no transposed
convolutions, no checkerboard), reflection-padded 3x3 convolutions, no normalisation (it would
wash the style's statistics out again). Ours is that shape, narrower: one convolution at 1/8
scale, then per upsampling one convolution that halves the width and one that keeps it; a final
3x3 convolution and a sigmoid (RGB in [0, 1] by construction, as the Johnson network).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from style_transfer.johnson.net import ConvLayer, UpsampleConvLayer


@dataclass(frozen=True)
class DecoderConfig:
    """Everything needed to rebuild the decoder; stored in its model file."""

    in_channels: int = 40
    widths: tuple[int, int, int, int] = (128, 64, 32, 16)  # at 1/8, 1/4, 1/2 and full scale

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> DecoderConfig:
        return cls(int(d["in_channels"]), tuple(int(w) for w in d["widths"]))  # type: ignore[arg-type]

    @property
    def scale(self) -> int:
        return 2 ** (len(self.widths) - 1)


class Decoder(nn.Module):
    def __init__(self, config: DecoderConfig | None = None) -> None:
        super().__init__()
        self.config = config or DecoderConfig()
        widths = self.config.widths
        layers: list[nn.Module] = [ConvLayer(self.config.in_channels, widths[0], 3, 1), nn.ReLU()]
        for wide, narrow in itertools.pairwise(widths):
            layers += [UpsampleConvLayer(wide, narrow), nn.ReLU()]
            layers += [ConvLayer(narrow, narrow, 3, 1), nn.ReLU()]
        layers.append(ConvLayer(widths[-1], 3, 3, 1))
        self.body = nn.Sequential(*layers)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.body(features))

    def peak_bytes_per_pixel(self) -> int:
        """Float32 bytes per output pixel at the peak (the full-scale layers), with a margin."""
        full, half = self.config.widths[-1], self.config.widths[-2]
        return int(4 * (3 * full + half / 4 + 12) * 1.5)
