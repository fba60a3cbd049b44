"""Backbones by name: hand-written ResNets, torchvision's classics and EfficientNet-Lite0.

    from shared import backbones
    backbones.list_backbones()
    model = backbones.create("resnet50", num_classes=5, pretrained="auto", finetune="head")

``pretrained``: ``no`` (random init), ``yes`` (ImageNet weights or a one-line error naming the file
expected in ``$TORCH_HOME/hub/checkpoints``), ``auto`` (weights when they can be had, else random
init with a warning).
"""

from __future__ import annotations

import warnings

import torch
from torch import nn

from shared.backbones import catalog as _catalog  # noqa: F401  (registers every entry)
from shared.backbones.registry import BackboneSpec, get_spec, list_backbones, register
from shared.backbones.weights import (
    PRETRAINED_CHOICES,
    WeightsCorrupt,
    WeightsUnavailable,
    is_available,
    load_state_dict,
)

FINETUNE_CHOICES = ("all", "head")

__all__ = [
    "FINETUNE_CHOICES",
    "PRETRAINED_CHOICES",
    "BackboneSpec",
    "WeightsCorrupt",
    "WeightsUnavailable",
    "create",
    "get_spec",
    "head_parameters",
    "list_backbones",
    "register",
    "replace_head",
]


def create(
    name: str,
    num_classes: int = 1000,
    *,
    pretrained: str | bool = "no",
    finetune: str = "all",
) -> nn.Module:
    """Build backbone ``name`` with a ``num_classes``-way head.

    With ImageNet weights the 1000-way model is loaded first and its head then replaced, so
    every layer but the head starts from the weights. ``finetune="head"`` freezes the rest.
    """
    spec = get_spec(name)
    pretrained = _normalise_pretrained(pretrained)
    if finetune not in FINETUNE_CHOICES:
        raise ValueError(f"finetune must be one of {FINETUNE_CHOICES}, not {finetune!r}")
    state = _imagenet_state(spec, pretrained)
    if state is None:
        model = spec.build(num_classes)
    else:
        model = spec.build(1000)
        model.load_state_dict(state)
        if num_classes != 1000:
            replace_head(model, spec, num_classes)
    model.pretrained = state is not None
    if finetune == "head":
        head = {id(p) for p in head_parameters(model, spec)}
        for p in model.parameters():
            p.requires_grad_(id(p) in head)
    return model


def _normalise_pretrained(pretrained: str | bool) -> str:
    if isinstance(pretrained, bool):
        return "yes" if pretrained else "no"
    if pretrained not in PRETRAINED_CHOICES:
        raise ValueError(f"pretrained must be one of {PRETRAINED_CHOICES}, not {pretrained!r}")
    return pretrained


def _imagenet_state(spec: BackboneSpec, pretrained: str) -> dict[str, torch.Tensor] | None:
    if pretrained == "no" or spec.weights is None:
        if pretrained == "yes":
            raise WeightsUnavailable(f"{spec.name} has no pretrained weights")
        return None
    try:
        state = load_state_dict(spec.weights)
    except WeightsUnavailable as exc:
        if pretrained == "yes":
            raise
        warnings.warn(f"{spec.name}: {exc}; starting from random weights", stacklevel=3)
        return None
    map_keys = spec.extra.get("map_keys")
    return map_keys(state) if map_keys else state


def _module(model: nn.Module, path: str) -> nn.Module:
    return model.get_submodule(path)


def replace_head(model: nn.Module, spec: BackboneSpec, num_classes: int) -> None:
    """Swap each classifier layer named in ``spec.head`` for a fresh ``num_classes``-way one."""
    for path in spec.head:
        old = _module(model, path)
        if isinstance(old, nn.Linear):
            new: nn.Module = nn.Linear(old.in_features, num_classes)
        elif isinstance(old, nn.Conv2d):
            new = nn.Conv2d(old.in_channels, num_classes, old.kernel_size)
        else:
            raise TypeError(f"{spec.name}: cannot replace head layer {path} ({type(old).__name__})")
        parent, _, attr = path.rpartition(".")
        setattr(_module(model, parent) if parent else model, attr, new)
    if hasattr(model, "num_classes"):
        model.num_classes = num_classes


def head_parameters(model: nn.Module, spec: BackboneSpec) -> list[nn.Parameter]:
    return [p for path in spec.head for p in _module(model, path).parameters()]


def weights_available(name: str) -> bool:
    """True when ``name``'s ImageNet weights load without the network."""
    spec = get_spec(name)
    return spec.weights is not None and is_available(spec.weights)
