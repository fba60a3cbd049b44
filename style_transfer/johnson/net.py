"""Johnson et al.'s image transformation network.

    from style_transfer.johnson.net import NetConfig, TransformerNet
    net = TransformerNet()              # 32-64-128 channels, 5 residual blocks, 1.68 M parameters
    y = net(x)                          # x, y: (B, 3, H, W) RGB in [0, 1], any H, W >= 8
    TransformerNet(NetConfig(widths=(16, 32, 64)))   # the shipped models' half width

Layers as in the paper's supplementary material and pytorch/examples (parameter names kept, so
weights move between the two): three reflection-padded convolutions (9x9, then two stride-2 3x3)
with instance normalisation, five residual blocks, two nearest x2 upsampling + 3x3 convolutions
(not learned transposed convolutions, which leave checkerboard artefacts), a final 9x9
convolution. The upsampling layers compute exactly that function, but faster, as a transposed
convolution whose kernel is derived from the 3x3 weights (:class:`UpsampleConvLayer`).

Two choices of our own:
- The input is reflection-padded to a multiple of 4 and the output cropped back, so any size comes
  out at its own size (pytorch/examples returns 340 rows for a 338-row photo).
- The output goes through a sigmoid: RGB in [0, 1] by construction. The loss network then sees
  exactly the image that gets saved, with a gradient everywhere; a linear 0-255 output that is
  clamped only when saving (pytorch/examples) trains on values the user never sees, and a clamp
  inside the graph has zero gradient wherever it is active.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

MIN_SIDE = 8  # padded to a multiple of 4, the 1/4-scale map needs 2 pixels for its 3x3 reflections


@dataclass(frozen=True)
class NetConfig:
    """Everything needed to rebuild the network; stored in every model file
    (:mod:`style_transfer.johnson.model_file`)."""

    widths: tuple[int, int, int] = (32, 64, 128)
    residual_blocks: int = 5

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> NetConfig:
        return cls(
            widths=tuple(int(w) for w in d["widths"]), residual_blocks=int(d["residual_blocks"])
        )


class ConvLayer(nn.Module):
    """Reflection padding then a convolution: no zero border for the style to paint."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, stride: int) -> None:
        super().__init__()
        self.reflection_pad = nn.ReflectionPad2d(kernel_size // 2)
        self.conv2d = nn.Conv2d(in_channels, out_channels, kernel_size, stride)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv2d(self.reflection_pad(x))


# Nearest x2 upsampling then a 3x3 convolution touches only two input rows per output row: even
# rows see rows (i-1, i) with taps (w0, w1+w2), odd rows (i, i+1) with (w0+w1, w2). That is a
# stride-2 transposed convolution with the 4x4 kernel built from these sums, applied to the input
# replicate-padded by 1 (reflection padding of the upsampled map repeats the input's edge).
_TAPS_4x3 = torch.tensor([[0.0, 0.0, 1.0], [0.0, 1.0, 1.0], [1.0, 1.0, 0.0], [1.0, 0.0, 0.0]])


class UpsampleConvLayer(nn.Module):
    """Nearest x2 upsampling + reflection-padded 3x3 convolution, computed at the input's size.

    The same function with the same weights as upsample-then-convolve (pytorch/examples; equal
    to 1e-5 in the tests), so it has no checkerboard artefacts: the weights stay a 3x3 kernel on
    the upsampled grid, and only the arithmetic runs as a transposed convolution whose 4x4 kernel
    is derived from them. 16 instead of 36 multiply-adds per output value, and the x2 upsampled
    copy of the input is never built (less than half the peak memory at 4K).
    """

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        self.conv2d = nn.Conv2d(in_channels, out_channels, 3)
        self.frozen_kernel: torch.Tensor | None = None  # set for export: a constant in the graph

    def transposed_kernel(self) -> torch.Tensor:
        """(in, out, 4, 4) kernel of the equivalent stride-2 transposed convolution."""
        taps = _TAPS_4x3.to(self.conv2d.weight)
        return torch.einsum("ak,bl,oikl->ioab", taps, taps, self.conv2d.weight)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        padded = F.pad(x, (1, 1, 1, 1), mode="replicate")
        return F.conv_transpose2d(
            padded,
            self.transposed_kernel() if self.frozen_kernel is None else self.frozen_kernel,
            self.conv2d.bias,
            stride=2,
            padding=3,
        )


class InstanceNorm(nn.InstanceNorm2d):
    """Affine instance normalisation whose statistics can be recorded once and then shared.

    Tiles of one large image must be normalised with the whole image's statistics, or each tile
    gets its own colour cast: :mod:`style_transfer.johnson.tiles` records them from one pass
    (``record = True``) and sets ``shared_stats`` while the tiles run.
    """

    def __init__(self, channels: int) -> None:
        super().__init__(channels, affine=True)
        self.record = False
        self.recorded: tuple[torch.Tensor, torch.Tensor] | None = None
        self.shared_stats: tuple[torch.Tensor, torch.Tensor] | None = None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.shared_stats is not None:
            mean, var = self.shared_stats
        elif self.record:
            var, mean = torch.var_mean(x.float(), dim=(0, 2, 3), unbiased=False)
            self.recorded = (mean, var)
        elif x.is_contiguous() or x.shape[0] == 0:
            return F.instance_norm(x, weight=self.weight, bias=self.bias, eps=self.eps)
        else:
            # channels_last: instance_norm would copy to NCHW and back (2-3x slower on CPU);
            # batch norm over one sample is instance norm, and keeps the layout
            parts = [self._one_sample(sample) for sample in x.split(1)]
            return parts[0] if len(parts) == 1 else torch.cat(parts)
        # one set of per-channel statistics for every sample: exactly what batch_norm applies
        mean, var = mean.to(x.dtype), var.to(x.dtype)  # recorded in float32
        return F.batch_norm(x, mean, var, self.weight, self.bias, False, 0.0, self.eps)

    def _one_sample(self, x: torch.Tensor) -> torch.Tensor:
        return F.batch_norm(x, None, None, self.weight, self.bias, True, 0.0, self.eps)


class ResidualBlock(nn.Module):
    """Two 3x3 conv + instance norm layers with an identity shortcut (no ReLU after the sum)."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.conv1 = ConvLayer(channels, channels, kernel_size=3, stride=1)
        self.in1 = InstanceNorm(channels)
        self.conv2 = ConvLayer(channels, channels, kernel_size=3, stride=1)
        self.in2 = InstanceNorm(channels)
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.in2(self.conv2(self.relu(self.in1(self.conv1(x)))))


class TransformerNet(nn.Module):
    """Photo (B, 3, H, W) in [0, 1] -> stylised photo, same shape, in [0, 1]."""

    def __init__(self, config: NetConfig | None = None) -> None:
        super().__init__()
        self.config = config or NetConfig()
        c1, c2, c3 = self.config.widths
        self.conv1 = ConvLayer(3, c1, kernel_size=9, stride=1)
        self.in1 = InstanceNorm(c1)
        self.conv2 = ConvLayer(c1, c2, kernel_size=3, stride=2)
        self.in2 = InstanceNorm(c2)
        self.conv3 = ConvLayer(c2, c3, kernel_size=3, stride=2)
        self.in3 = InstanceNorm(c3)
        for i in range(self.config.residual_blocks):
            self.add_module(f"res{i + 1}", ResidualBlock(c3))
        self.deconv1 = UpsampleConvLayer(c3, c2)
        self.in4 = InstanceNorm(c2)
        self.deconv2 = UpsampleConvLayer(c2, c1)
        self.in5 = InstanceNorm(c1)
        self.deconv3 = ConvLayer(c1, 3, kernel_size=9, stride=1)
        self.relu = nn.ReLU(inplace=True)

    def residual_blocks(self) -> list[ResidualBlock]:
        return [getattr(self, f"res{i + 1}") for i in range(self.config.residual_blocks)]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h, w = x.shape[-2:]
        if not torch.jit.is_tracing() and min(h, w) < MIN_SIDE:
            raise ValueError(f"input {h}x{w} is too small: at least {MIN_SIDE} px per side")
        # always pad (by 0 when already a multiple of 4): no size-dependent branch, so an ONNX
        # export stays valid for every height and width
        y = F.pad(x, (0, (-w) % 4, 0, (-h) % 4), mode="reflect")
        y = self.relu(self.in1(self.conv1(y)))
        y = self.relu(self.in2(self.conv2(y)))
        y = self.relu(self.in3(self.conv3(y)))
        for block in self.residual_blocks():
            y = block(y)
        y = self.relu(self.in4(self.deconv1(y)))
        y = self.relu(self.in5(self.deconv2(y)))
        return torch.sigmoid(self.deconv3(y))[..., :h, :w]

    def peak_bytes_per_pixel(self) -> int:
        """Memory one float32 inference pass needs per input pixel, with a 1.5x margin.

        The peak is at full resolution, in the last layer: the normalised ``deconv2`` output and
        its reflection-padded copy (c1 channels each), the 1/4-size input of ``deconv2`` (c2/4
        per pixel), and a few 3-channel maps (input, output). Measured: 330 B/px in channels_last,
        510 in NCHW, against 552 estimated for the default widths (``labs/bench_johnson.py``).
        """
        c1, c2, _ = self.config.widths
        floats = 2 * c1 + c2 / 4 + 12
        return int(4 * floats * 1.5)


def norm_layers(model: nn.Module) -> list[InstanceNorm]:
    """The instance norms of ``model``, in the order its forward pass applies them."""
    return [m for m in model.modules() if isinstance(m, InstanceNorm)]


def to_inference(model: nn.Module, device: torch.device | str) -> nn.Module:
    """Eval mode on ``device``, channels_last: 1.5x faster than NCHW on CPU at 512-1024 px
    (oneDNN; ``labs/bench_johnson.py``), and the layout tensor cores want on CUDA. Inputs go
    through :func:`channels_last`."""
    return model.eval().to(device=device, memory_format=torch.channels_last)


def channels_last(x: torch.Tensor) -> torch.Tensor:
    return x.contiguous(memory_format=torch.channels_last)
