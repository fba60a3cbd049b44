"""The backbone registry: one name -> how to build it, its input size and its normalisation.

from shared import backbones
model = backbones.create("resnet50", num_classes=5, pretrained="auto")
spec = backbones.get_spec("inception_v3")   # spec.min_input_size == 75, spec.mean, spec.std
spec = backbones.get_spec("timm:efficientnet_b0")   # any timm model, made on demand (timm_models)

The registered names are the project's own; ``timm:<name>`` names any model of timm (the optional
extra ``visionlab[timm]``), whose spec :mod:`shared.backbones.timm_models` makes when asked.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from torch import nn

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
TIMM_PREFIX = "timm:"  # names a timm model: timm:efficientnet_b0


@dataclass(frozen=True)
class BackboneSpec:
    """What the rest of the project needs to know about one backbone.

    ``build(num_classes)`` returns a randomly initialised model with an ``num_classes``-way head.
    ``weights`` describes the ImageNet weights (a pinned torchvision enum member named by a
    ``TorchvisionWeights``, or a ``PackagedWeights``); ``head`` names the attributes that form
    the classifier, so the head can be replaced and everything else frozen. ``description`` is
    the one line ``train --list-archs`` shows.
    """

    name: str
    build: Callable[[int], nn.Module]
    min_input_size: int = 32  # smallest side the network's pooling accepts
    mean: tuple[float, float, float] = IMAGENET_MEAN
    std: tuple[float, float, float] = IMAGENET_STD
    weights: Any = None
    head: tuple[str, ...] = ("fc",)
    description: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


_REGISTRY: dict[str, BackboneSpec] = {}


def register(spec: BackboneSpec) -> BackboneSpec:
    """Add ``spec`` to the registry; a second entry under the same name is a bug, so it raises."""
    if spec.name in _REGISTRY:
        raise ValueError(f"backbone {spec.name!r} is already registered")
    _REGISTRY[spec.name] = spec
    return spec


def list_backbones() -> list[str]:
    return sorted(_REGISTRY)


def get_spec(name: str) -> BackboneSpec:
    """The spec of a registered name, or of ``timm:<name>`` (a ``ValueError`` for an unknown
    name, or for a timm name without timm installed)."""
    if name.startswith(TIMM_PREFIX):
        from shared.backbones.timm_models import timm_spec

        return timm_spec(name)
    try:
        return _REGISTRY[name]
    except KeyError:
        raise ValueError(
            f"unknown backbone {name!r}; choose one of: {', '.join(list_backbones())}, "
            f"or {TIMM_PREFIX}<name> for a timm model"
        ) from None
