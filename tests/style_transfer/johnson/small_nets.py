"""The small seeded networks several Johnson tests share."""

from __future__ import annotations

import torch

from style_transfer.johnson.net import NetConfig, TransformerNet

SMALL = NetConfig(widths=(8, 16, 32), residual_blocks=2)


def small_net(seed: int = 0) -> TransformerNet:
    torch.manual_seed(seed)
    return TransformerNet(SMALL).eval()
