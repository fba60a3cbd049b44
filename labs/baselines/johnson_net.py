"""Johnson et al.'s image transformation network, built the plain way: the bench's baseline.

    from labs.baselines.johnson_net import from_transformer_net
    baseline = from_transformer_net(ours)     # ours: a style_transfer TransformerNet; same weights
    with torch.no_grad():
        y = baseline(x)                       # x, y: (B, 3, H, W) RGB in [0, 1]; y == ours(x)

The network of Johnson, Alahi & Fei-Fei, "Perceptual Losses for Real-Time Style Transfer and
Super-Resolution" (ECCV 2016) and its supplementary material: a 9x9 convolution to 32 channels,
two stride-2 3x3 convolutions to 64 and 128, five residual blocks of two 3x3 convolutions at 128
channels, two x2 up-sampling stages to 64 and 32 channels, and a 9x9 convolution back to RGB;
every convolution but the last followed by a normalisation and a ReLU, none after a residual sum.

Where the paper's table and this project's network differ, this one follows the variants in
common use today, as ours does, so that both compute one function: instance normalisation
(Ulyanov, Vedaldi & Lempitsky 2016) instead of batch normalisation, reflection padding at every
convolution, nearest x2 up-sampling followed by a 3x3 convolution instead of fractionally strided
convolutions, and a sigmoid to [0, 1] instead of a scaled tanh to [0, 255]. Also as ours, the input
is reflection-padded to a multiple of 4 and the output cropped back to the input's size.

"Plain": NCHW float32 tensors, ``nn.Conv2d``, ``nn.InstanceNorm2d``, ``F.pad`` and
``F.interpolate``, each step computed as written: no channels_last layout, no fused or folded
layers, no up-sampling rewritten as a transposed convolution, no ``inference_mode``. The bench runs
it under ``torch.no_grad()``.
"""

from __future__ import annotations

from collections.abc import Mapping

import torch
import torch.nn.functional as F
from torch import nn

from style_transfer.johnson.net import TransformerNet

PAPER_WIDTHS = (32, 64, 128)
PAPER_RESIDUAL_BLOCKS = 5


def reflect(x: torch.Tensor, kernel_size: int) -> torch.Tensor:
    """Reflection padding that keeps a stride-1 convolution's output at its input's size."""
    p = kernel_size // 2
    return F.pad(x, (p, p, p, p), mode="reflect")


class ConvStage(nn.Module):
    """[x2 nearest up-sampling], reflection padding, convolution, instance norm, ReLU."""

    def __init__(
        self, cin: int, cout: int, kernel_size: int, stride: int = 1, upsample: bool = False
    ) -> None:
        super().__init__()
        self.upsample = upsample
        self.conv = nn.Conv2d(cin, cout, kernel_size, stride)
        self.norm = nn.InstanceNorm2d(cout, affine=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.upsample:
            x = F.interpolate(x, scale_factor=2, mode="nearest")
        return F.relu(self.norm(self.conv(reflect(x, self.conv.kernel_size[0]))))


class ResidualBlock(nn.Module):
    """x + norm(conv(stage(x))): two 3x3 convolutions, the shortcut added after the second norm."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.first = ConvStage(channels, channels, 3)
        self.conv = nn.Conv2d(channels, channels, 3)
        self.norm = nn.InstanceNorm2d(channels, affine=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.norm(self.conv(reflect(self.first(x), 3)))


class JohnsonNet(nn.Module):
    """Photo (B, 3, H, W) in [0, 1] -> stylised photo, same shape, in [0, 1]."""

    def __init__(
        self,
        widths: tuple[int, int, int] = PAPER_WIDTHS,
        residual_blocks: int = PAPER_RESIDUAL_BLOCKS,
    ) -> None:
        super().__init__()
        c1, c2, c3 = widths
        self.down = nn.Sequential(
            ConvStage(3, c1, 9), ConvStage(c1, c2, 3, stride=2), ConvStage(c2, c3, 3, stride=2)
        )
        self.residual = nn.Sequential(*(ResidualBlock(c3) for _ in range(residual_blocks)))
        self.up = nn.Sequential(
            ConvStage(c3, c2, 3, upsample=True), ConvStage(c2, c1, 3, upsample=True)
        )
        self.to_rgb = nn.Conv2d(c1, 3, 9)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h, w = x.shape[-2:]
        # two stride-2 stages: a multiple of 4 comes back at its own size
        y = F.pad(x, (0, -w % 4, 0, -h % 4), mode="reflect")
        y = self.up(self.residual(self.down(y)))
        return torch.sigmoid(self.to_rgb(reflect(y, 9)))[..., :h, :w]


# Our network's top-level layer names -> this one's. Ours wraps each convolution with its padding
# (``<layer>.conv2d``), which this one does not.
_STAGE_NAMES = {
    "conv1": "down.0.conv",
    "in1": "down.0.norm",
    "conv2": "down.1.conv",
    "in2": "down.1.norm",
    "conv3": "down.2.conv",
    "in3": "down.2.norm",
    "deconv1": "up.0.conv",
    "in4": "up.0.norm",
    "deconv2": "up.1.conv",
    "in5": "up.1.norm",
    "deconv3": "to_rgb",
}
_BLOCK_NAMES = {"conv1": "first.conv", "in1": "first.norm", "conv2": "conv", "in2": "norm"}


def baseline_key(ours: str) -> str:
    """The name in :class:`JohnsonNet` of the parameter ``ours`` of a ``TransformerNet``."""
    parts = [p for p in ours.split(".") if p != "conv2d"]
    if parts[0].startswith("res"):  # res1 .. resN
        block = int(parts[0].removeprefix("res")) - 1
        return ".".join(["residual", str(block), _BLOCK_NAMES[parts[1]], *parts[2:]])
    return ".".join([_STAGE_NAMES[parts[0]], *parts[1:]])


def load_transformer_net_state(net: JohnsonNet, state: Mapping[str, torch.Tensor]) -> JohnsonNet:
    """Load a ``TransformerNet`` state dict into ``net`` by name (strict: every key must map)."""
    net.load_state_dict({baseline_key(k): v for k, v in state.items()})
    return net


def from_transformer_net(ours: TransformerNet) -> JohnsonNet:
    """A baseline of ``ours``'s widths and depth holding a copy of its weights, in eval mode."""
    net = JohnsonNet(tuple(ours.config.widths), ours.config.residual_blocks)
    return load_transformer_net_state(net, ours.state_dict()).eval()
