"""Johnson et al.'s transformation network built the plain way, as the paper's supplementary
material describes it: reflection-padded convolutions, instance norm, five residual blocks, and
nearest x2 upsampling followed by a convolution; NCHW, float32, no size handling, linear output.

Its parameters carry the names of :class:`style_transfer.johnson.net.TransformerNet`, so one set
of weights loads into both and the tests can check that the fast network computes the same
function (through a sigmoid: ours keeps its output in [0, 1]).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class Conv(nn.Module):
    def __init__(self, cin: int, cout: int, kernel: int, stride: int = 1, up: bool = False):
        super().__init__()
        self.up, self.pad = up, kernel // 2
        self.conv2d = nn.Conv2d(cin, cout, kernel, stride)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.up:
            x = F.interpolate(x, scale_factor=2, mode="nearest")
        return self.conv2d(F.pad(x, [self.pad] * 4, mode="reflect"))


class Residual(nn.Module):
    def __init__(self, channels: int) -> None:
        super().__init__()
        self.conv1, self.in1 = Conv(channels, channels, 3), nn.InstanceNorm2d(channels, affine=True)
        self.conv2, self.in2 = Conv(channels, channels, 3), nn.InstanceNorm2d(channels, affine=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.in2(self.conv2(F.relu(self.in1(self.conv1(x)))))


class PlainTransformerNet(nn.Module):
    def __init__(self, widths: tuple[int, int, int] = (32, 64, 128), blocks: int = 5) -> None:
        super().__init__()
        c1, c2, c3 = widths
        self.conv1, self.in1 = Conv(3, c1, 9), nn.InstanceNorm2d(c1, affine=True)
        self.conv2, self.in2 = Conv(c1, c2, 3, 2), nn.InstanceNorm2d(c2, affine=True)
        self.conv3, self.in3 = Conv(c2, c3, 3, 2), nn.InstanceNorm2d(c3, affine=True)
        self.blocks = blocks
        for i in range(blocks):
            self.add_module(f"res{i + 1}", Residual(c3))
        self.deconv1, self.in4 = Conv(c3, c2, 3, up=True), nn.InstanceNorm2d(c2, affine=True)
        self.deconv2, self.in5 = Conv(c2, c1, 3, up=True), nn.InstanceNorm2d(c1, affine=True)
        self.deconv3 = Conv(c1, 3, 9)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = F.relu(self.in1(self.conv1(x)))
        y = F.relu(self.in2(self.conv2(y)))
        y = F.relu(self.in3(self.conv3(y)))
        for i in range(self.blocks):
            y = getattr(self, f"res{i + 1}")(y)
        y = F.relu(self.in4(self.deconv1(y)))
        y = F.relu(self.in5(self.deconv2(y)))
        return self.deconv3(y)
