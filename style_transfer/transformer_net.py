"""Johnson et al.'s image transformation network, and its model files.

    from style_transfer.transformer_net import TransformerNet, load_model, save_model
    net = TransformerNet()              # 32-64-128 channels, 5 residual blocks, 1.68 M parameters
    y = net(x)                          # x, y: (B, 3, H, W) RGB in [0, 1], any H, W >= 8
    save_model("starry.safetensors", net, {"style": "starry", "recipe": "..."})  # fp16, 3.4 MB
    net, meta = load_model("starry.safetensors", device="cpu")

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

import hashlib
import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from safetensors import safe_open
from safetensors.torch import save_file
from torch import nn

from shared.atomic import atomic_path
from shared.errors import UserError

ARCH = "johnson-transformer"
ARCH_VERSION = 1
FILE_FORMAT = "visionlab-style-model"
MIN_SIDE = 8  # padded to a multiple of 4, the 1/4-scale map needs 2 pixels for its 3x3 reflections


@dataclass(frozen=True)
class NetConfig:
    """Everything needed to rebuild the network; stored in every model file."""

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
    gets its own colour cast: :func:`style_transfer.stylize.shared_statistics` records them from
    one pass (``record = True``) and sets ``shared_stats`` while the tiles run.
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


def to_inference(model: nn.Module, device: torch.device | str) -> nn.Module:
    """Eval mode on ``device``, channels_last: 1.5x faster than NCHW on CPU at 512-1024 px
    (oneDNN; ``labs/bench_johnson.py``), and the layout tensor cores want on CUDA. Inputs go
    through :func:`channels_last`."""
    return model.eval().to(device=device, memory_format=torch.channels_last)


def channels_last(x: torch.Tensor) -> torch.Tensor:
    return x.contiguous(memory_format=torch.channels_last)


# ----------------------------------------------------------------------------- model files


def save_model(path: str | Path, model: TransformerNet, meta: dict[str, Any]) -> Path:
    """Write ``model`` as fp16 safetensors with its config and ``meta``, atomically.

    ``meta`` (JSON-serialisable: style name, training recipe...) comes back from
    :func:`load_model`. The header also carries the architecture tag and version and a SHA-256
    of the tensors, so a damaged file is refused rather than loaded as noise.
    """
    path = Path(path)
    tensors = {
        k: v.detach().to("cpu", torch.float16).contiguous() for k, v in model.state_dict().items()
    }
    bad = [k for k, v in tensors.items() if not torch.isfinite(v).all()]
    if bad:
        raise ValueError(f"weights not finite in float16: {', '.join(bad[:3])}")
    header = {
        "format": FILE_FORMAT,
        "arch": ARCH,
        "arch_version": str(ARCH_VERSION),
        "config": json.dumps(asdict(model.config)),
        "meta": json.dumps(meta, sort_keys=True),
        "sha256": _digest(tensors),
    }
    with atomic_path(path) as tmp:
        save_file(tensors, str(tmp), metadata=header)
    return path


def load_model(
    path: str | Path, device: torch.device | str = "cpu"
) -> tuple[TransformerNet, dict[str, Any]]:
    """Rebuild the network from a file written by :func:`save_model`; returns (model, meta).

    The model is float32, in eval mode, on ``device``. A missing, truncated or corrupt file, a
    file that is not safetensors, or a model of another architecture raises :class:`UserError`.
    """
    path = Path(path)
    if not path.is_file():
        raise UserError(f"model file not found: {path}")
    header, tensors = _read_safetensors(path)
    config = _check_header(path, header)
    if header.get("sha256") != _digest(tensors):
        raise UserError(f"model file {path} is corrupt (checksum mismatch)")
    model = TransformerNet(config)
    _check_tensors(path, model, tensors)
    model.load_state_dict({k: v.float() for k, v in tensors.items()})
    return model.eval().to(device), json.loads(header["meta"])


def _read_safetensors(path: Path) -> tuple[dict[str, str], dict[str, torch.Tensor]]:
    try:
        with safe_open(str(path), framework="pt") as f:
            return dict(f.metadata() or {}), {k: f.get_tensor(k) for k in f.keys()}  # noqa: SIM118
    except Exception as exc:  # safetensors raises its own, OSError, ValueError... all mean the same
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise UserError(
            f"{path} is not a readable model file (truncated, corrupt or not safetensors: {reason})"
        ) from None


def _check_header(path: Path, header: dict[str, str]) -> NetConfig:
    if header.get("format") != FILE_FORMAT:
        raise UserError(f"{path} is not a style-transfer model file (no '{FILE_FORMAT}' header)")
    if header.get("arch") != ARCH:
        raise UserError(f"{path} holds a '{header.get('arch')}' model, not '{ARCH}'")
    if int(header.get("arch_version", "0")) != ARCH_VERSION:
        raise UserError(
            f"{path} is '{ARCH}' version {header.get('arch_version')}; "
            f"this code reads version {ARCH_VERSION}"
        )
    try:
        return NetConfig.from_dict(json.loads(header["config"]))
    except (KeyError, TypeError, ValueError) as exc:
        raise UserError(f"{path} has an unreadable network config: {exc}") from None


def _check_tensors(path: Path, model: nn.Module, tensors: dict[str, torch.Tensor]) -> None:
    expected = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    found = {k: tuple(v.shape) for k, v in tensors.items()}
    problems = [f"missing {k}" for k in expected.keys() - found.keys()]
    problems += [f"unexpected {k}" for k in found.keys() - expected.keys()]
    problems += [
        f"{k} is {found[k]}, expected {shape}"
        for k, shape in expected.items()
        if k in found and found[k] != shape
    ]
    if problems:
        more = f" (+{len(problems) - 3} more)" if len(problems) > 3 else ""
        raise UserError(
            f"{path} does not match its '{ARCH}' config: {'; '.join(sorted(problems)[:3])}{more}"
        )
    if not all(torch.isfinite(v).all() for v in tensors.values()):
        raise UserError(f"model file {path} holds non-finite weights")


def _digest(tensors: dict[str, torch.Tensor]) -> str:
    h = hashlib.sha256()
    for k in sorted(tensors):
        v = tensors[k]
        h.update(f"{k}:{v.dtype}:{tuple(v.shape)};".encode())
        h.update(v.contiguous().reshape(-1).view(torch.uint8).numpy().tobytes())  # 0-d too
    return h.hexdigest()
