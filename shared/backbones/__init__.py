"""Backbones by name: hand-written ResNets, torchvision's classics, EfficientNet-Lite0, and any
timm model as ``timm:<name>``.

    from shared import backbones
    backbones.list_backbones()
    model = backbones.create("resnet50", num_classes=5, pretrained="auto", finetune="head")
    model = backbones.create("timm:efficientnet_b0", num_classes=5, pretrained="weights.pth")

``pretrained``: ``no`` (random init), ``yes`` (ImageNet weights or a one-line error naming the file
expected in ``$TORCH_HOME/hub/checkpoints``, or for a timm model the Hugging Face cache), ``auto``
(weights when they can be had, else random init, said once per process), or the path of a
weights file of the user's (:mod:`shared.backbones.weights_file`: what fits is loaded, one
summary line says what did not).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from torch import nn

from shared.backbones import catalog as _catalog  # noqa: F401  (registers every entry)
from shared.backbones import timm_models
from shared.backbones.registry import (
    TIMM_PREFIX,
    BackboneSpec,
    get_spec,
    list_backbones,
    register,
)
from shared.backbones.weights import (
    PRETRAINED_CHOICES,
    WeightsCorrupt,
    WeightsError,
    WeightsMismatch,
    WeightsUnavailable,
    file_name,
    is_available,
    load_state_dict,
    notice_once,
)
from shared.backbones.weights_file import KEY_PREFIXES, load_weights_file, sha256_prefix
from shared.distributed import is_main_process

FINETUNE_CHOICES = ("all", "head")

__all__ = [
    "FINETUNE_CHOICES",
    "KEY_PREFIXES",
    "PRETRAINED_CHOICES",
    "TIMM_PREFIX",
    "BackboneSpec",
    "WeightsCorrupt",
    "WeightsError",
    "WeightsMismatch",
    "WeightsUnavailable",
    "create",
    "get_spec",
    "head_parameters",
    "list_backbones",
    "register",
    "replace_head",
    "weights_line",
    "weights_record",
]


def create(
    name: str,
    num_classes: int = 1000,
    *,
    pretrained: str | bool | Path = "no",
    finetune: str = "all",
) -> nn.Module:
    """Build backbone ``name`` with a ``num_classes``-way head.

    With ImageNet weights the 1000-way model is loaded first and its head then replaced, so
    every layer but the head starts from the weights. With a weights file the model is built
    with its ``num_classes``-way head and what fits of the file is loaded over it (the summary
    line printed). ``finetune="head"`` freezes the rest. ``model.pretrained`` says whether
    weights were loaded.
    """
    spec = get_spec(name)
    pretrained = normalise_pretrained(pretrained)
    if finetune not in FINETUNE_CHOICES:
        raise ValueError(f"finetune must be one of {FINETUNE_CHOICES}, not {finetune!r}")
    if isinstance(pretrained, Path):
        model = _from_file(spec, num_classes, pretrained)
    else:
        model = _from_imagenet(spec, num_classes, pretrained)
    if finetune == "head":
        head = {id(p) for p in head_parameters(model, spec)}
        for p in model.parameters():
            p.requires_grad_(id(p) in head)
    return model


def normalise_pretrained(pretrained: str | bool | Path) -> str | Path:
    """``no``, ``yes`` or ``auto``; anything else names a weights file (a ``Path``)."""
    if isinstance(pretrained, bool):
        return "yes" if pretrained else "no"
    if isinstance(pretrained, str) and pretrained in PRETRAINED_CHOICES:
        return pretrained
    if not str(pretrained):
        raise ValueError(f"pretrained must be one of {PRETRAINED_CHOICES} or a weights file")
    return Path(pretrained).expanduser()


def _from_file(spec: BackboneSpec, num_classes: int, path: Path) -> nn.Module:
    model = spec.build(num_classes)
    report = load_weights_file(model, path, head=head_paths(model, spec), name=spec.name)
    model.pretrained = True
    if is_main_process():
        print(report.line, flush=True)
    return model


def _from_imagenet(spec: BackboneSpec, num_classes: int, pretrained: str) -> nn.Module:
    try:
        model = _imagenet_model(spec, num_classes, pretrained)
    except WeightsUnavailable as exc:
        if pretrained == "yes":
            raise
        # one notice per process: a lab building eight models offline says it once
        notice_once("random-init", f"{spec.name}: {exc}; starting from random weights")
        model = None
    if model is None:
        model = spec.build(num_classes)
        model.pretrained = False
    else:
        model.pretrained = True
    return model


def _imagenet_model(spec: BackboneSpec, num_classes: int, pretrained: str) -> nn.Module | None:
    """The model with ImageNet weights and a ``num_classes``-way head; None for ``no``."""
    if pretrained == "no":
        return None
    if timm_models.is_timm(spec):
        model = timm_models.pretrained_model(spec, num_classes)
    else:
        if spec.weights is None:
            raise WeightsUnavailable(f"{spec.name} has no pretrained weights")
        state = load_state_dict(spec.weights)
        map_keys = spec.extra.get("map_keys")
        model = spec.build(1000)
        model.load_state_dict(map_keys(state) if map_keys else state)
        if num_classes != 1000:
            replace_head(model, spec, num_classes)
    return model


def _module(model: nn.Module, path: str) -> nn.Module:
    return model.get_submodule(path)


def replace_head(model: nn.Module, spec: BackboneSpec, num_classes: int) -> None:
    """Swap each classifier layer named in ``spec.head`` for a fresh ``num_classes``-way one
    (a timm model's through its own ``reset_classifier``)."""
    if timm_models.is_timm(spec):
        model.reset_classifier(num_classes)
        return
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
    if timm_models.is_timm(spec):
        return timm_models.head_parameters(model)
    return [p for path in spec.head for p in _module(model, path).parameters()]


def head_paths(model: nn.Module, spec: BackboneSpec) -> tuple[str, ...]:
    """The classifier's module paths in ``model`` (a timm model's from ``get_classifier``)."""
    return timm_models.head_paths(model) if timm_models.is_timm(spec) else spec.head


def weights_available(name: str) -> bool:
    """True when ``name``'s ImageNet weights load without the network."""
    spec = get_spec(name)
    if timm_models.is_timm(spec):
        return timm_models.cached_weights(spec) is not None
    return spec.weights is not None and is_available(spec.weights)


def weights_record(name: str, pretrained: str | Path, loaded: bool) -> dict[str, Any]:
    """What a model's weights were, for a run's record: ``{"source": "random"}``,
    ``{"source": "imagenet", "name": <file or Hugging Face id>}`` or
    ``{"source": "file", "path": <absolute>, "sha256": <first 12 hex digits>}``."""
    choice = normalise_pretrained(pretrained)
    if isinstance(choice, Path):
        path = choice.resolve()
        return {"source": "file", "path": str(path), "sha256": sha256_prefix(path)}
    if not loaded:
        return {"source": "random"}
    spec = get_spec(name)
    if timm_models.is_timm(spec):
        return {"source": "imagenet", "name": timm_models.weights_name(spec)}
    return {"source": "imagenet", "name": file_name(spec.weights) if spec.weights else None}


def weights_line(record: dict[str, Any]) -> str:
    """The record of :func:`weights_record` in words: ``random init``, ``ImageNet weights``
    (``(<name>)``), ``weights from <path>, sha256 <prefix>``."""
    source = record.get("source")
    if source == "file":
        return f"weights from {record.get('path')}, sha256 {record.get('sha256')}"
    if source == "imagenet":
        named = record.get("name")
        return f"ImageNet weights ({named})" if named else "ImageNet weights"
    return "random init"


def catalog_lines() -> list[str]:
    """``train --list-archs``: each of ours (name, smallest input, what it is), then timm's."""
    width = max(map(len, list_backbones()))
    lines = [
        f"{name:<{width}}  min {get_spec(name).min_input_size:>3} px  {get_spec(name).description}"
        for name in list_backbones()
    ]
    version = timm_models.timm_version()
    have = f"timm {version} installed" if version else f"timm not installed: {timm_models.INSTALL}"
    return [
        *lines,
        f"{TIMM_PREFIX}<name>: any timm model ({have}), e.g. {TIMM_PREFIX}resnet18, "
        f"{TIMM_PREFIX}efficientnet_b0, {TIMM_PREFIX}convnext_atto",
        "  find names with: python -c \"import timm; print(timm.list_models('*efficientnet*'))\"",
    ]
