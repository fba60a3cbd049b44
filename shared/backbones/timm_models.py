"""Any timm model as a backbone: ``timm:<name>`` (the optional extra ``visionlab[timm]``).

    spec = get_spec("timm:efficientnet_b0")   # spec.mean, spec.std, spec.extra["input_size"]
    model = backbones.create("timm:convnext_atto", num_classes=5, pretrained="auto")

The spec is made on demand from timm's own records: the model is built with
``timm.create_model(name, num_classes=n)``; its classifier is found and replaced through timm's
API (``get_classifier`` / ``reset_classifier``), so ``finetune="head"`` and a pretrained 1000-way
model work for every family (``fc``, ``classifier``, ``head.fc``, ``head``); mean, std and the
default input size come from the model's pretrained config (the input size recorded for
information; a model of a fixed input size, such as a ViT, needs exactly that size).

Pretrained weights go through timm's own loader, which reads with ``weights_only=True`` or
safetensors: from the Hugging Face cache when the file is there
(``huggingface_hub.try_to_load_from_cache`` with the config's ``hf_hub_id``, then
``pretrained_cfg_overlay=dict(file=...)``) or from ``$TORCH_HOME/hub/checkpoints`` (the
config's ``url``); else downloaded by timm, unless ``VISIONLAB_OFFLINE=1``, which never tries the
network (nor does a process whose first download failed). Weights that cannot be had raise
:class:`WeightsUnavailable`, which ``pretrained="auto"`` turns into random init with the one
notice per process every backbone shares.
"""

from __future__ import annotations

import difflib
import functools
import pickle
from pathlib import Path
from types import ModuleType
from typing import Any

from torch import nn

from shared.backbones.registry import IMAGENET_MEAN, IMAGENET_STD, TIMM_PREFIX, BackboneSpec
from shared.backbones.weights import (
    WeightsCorrupt,
    WeightsUnavailable,
    download_blocked,
    download_failed,
    hub_checkpoint_dir,
)

INSTALL = "pip install 'visionlab[timm]'"
# The files timm's Hugging Face loader reads, safetensors first, when a config names none.
HF_FILES = ("model.safetensors", "pytorch_model.bin")
SUGGESTIONS = 5  # close names an unknown one is answered with


def _timm(arch: str) -> ModuleType:
    try:
        import timm
    except ImportError:
        raise ValueError(f"{arch} needs timm, which is not installed: {INSTALL}") from None
    return timm


def is_timm(spec: BackboneSpec) -> bool:
    return "timm" in spec.extra


@functools.cache
def timm_spec(arch: str) -> BackboneSpec:
    """The spec of ``timm:<name>`` (``name`` may carry a weights tag: ``resnet18.a1_in1k``)."""
    name = arch[len(TIMM_PREFIX) :]
    timm = _timm(arch)
    if not name or not timm.is_model(name):
        raise ValueError(f"unknown timm model {name!r}{_suggest(timm, name)}")
    cfg = _pretrained_cfg(timm, name)
    size = tuple(cfg.get("input_size") or (3, 224, 224))
    fixed = bool(cfg.get("fixed_input_size"))
    smallest = cfg.get("min_input_size")
    return BackboneSpec(
        name=arch,
        build=lambda n: timm.create_model(name, num_classes=n),
        min_input_size=size[-1] if fixed else (smallest[-1] if smallest else 32),
        mean=tuple(cfg.get("mean") or IMAGENET_MEAN),
        std=tuple(cfg.get("std") or IMAGENET_STD),
        head=_classifier_names(cfg),
        description=f"timm's {name} (default input {size[-1]} px)",
        extra={"timm": name, "input_size": size, "fixed_input_size": fixed, "pretrained_cfg": cfg},
    )


def _pretrained_cfg(timm: ModuleType, name: str) -> dict[str, Any]:
    cfg = timm.models.get_pretrained_cfg(name)
    return cfg.to_dict() if cfg is not None else {}


def _classifier_names(cfg: dict[str, Any]) -> tuple[str, ...]:
    names = cfg.get("classifier") or ()
    return (names,) if isinstance(names, str) else tuple(names)


def _suggest(timm: ModuleType, name: str) -> str:
    """``; close names: a, b, c`` from a wildcard search, else by spelling; or a hint."""
    close = timm.list_models(f"*{name}*")[:SUGGESTIONS] if name else []
    if not close:
        close = difflib.get_close_matches(name, timm.list_models(), n=SUGGESTIONS, cutoff=0.6)
    if close:
        return "; close names: " + ", ".join(TIMM_PREFIX + c for c in close)
    return "; list them with: python -c \"import timm; print(timm.list_models('*net*'))\""


def head_modules(model: nn.Module) -> list[nn.Module]:
    head = model.get_classifier()
    return list(head) if isinstance(head, (tuple, list)) else [head]


def head_parameters(model: nn.Module) -> list[nn.Parameter]:
    return [p for m in head_modules(model) for p in m.parameters()]


def head_paths(model: nn.Module) -> tuple[str, ...]:
    """The module paths of the classifier ``get_classifier`` returns (``fc``, ``head.fc``)."""
    wanted = {id(m) for m in head_modules(model)}
    return tuple(path for path, m in model.named_modules() if id(m) in wanted and path)


def cached_weights(spec: BackboneSpec) -> Path | None:
    """The model's pretrained file where it already is: the Hugging Face cache, then
    ``$TORCH_HOME/hub/checkpoints``; None when neither holds it. Never the network."""
    cfg = spec.extra["pretrained_cfg"]
    hub_id = cfg.get("hf_hub_id")
    if hub_id:
        try:
            from huggingface_hub import try_to_load_from_cache
        except ImportError:
            try_to_load_from_cache = None
        repo, _, revision = hub_id.partition("@")
        names = (cfg["hf_hub_filename"],) if cfg.get("hf_hub_filename") else HF_FILES
        for file in names if try_to_load_from_cache else ():
            found = try_to_load_from_cache(repo, file, revision=revision or None)
            if isinstance(found, str):
                return Path(found)
    url = cfg.get("url")
    if url:
        path = hub_checkpoint_dir() / url.rsplit("/", 1)[-1]
        if path.is_file():
            return path
    return None


def weights_name(spec: BackboneSpec) -> str | None:
    """What names the pretrained weights: the Hugging Face id, else the file of the url."""
    cfg = spec.extra["pretrained_cfg"]
    url = cfg.get("url")
    return cfg.get("hf_hub_id") or (url.rsplit("/", 1)[-1] if url else None)


def pretrained_model(spec: BackboneSpec, num_classes: int) -> nn.Module:
    """The model with timm's pretrained weights and a fresh ``num_classes``-way head (kept when
    the weights' own head already has that many classes)."""
    name = spec.extra["timm"]
    where = weights_name(spec)
    if where is None:
        raise WeightsUnavailable(f"timm has no pretrained weights for {name}")
    path = cached_weights(spec)
    blocked = download_blocked() if path is None else None
    if blocked:
        raise WeightsUnavailable(
            f"{where} is not in the Hugging Face cache ({_hf_cache()}) and {blocked}"
        )
    overlay = {"file": str(path)} if path is not None else None
    timm = _timm(spec.name)
    try:
        model = timm.create_model(name, pretrained=True, pretrained_cfg_overlay=overlay)
    except pickle.UnpicklingError as exc:
        raise WeightsCorrupt(f"{path or where} is not a plain tensor file, refused: "
                             f"{_first_line(exc)}") from None  # fmt: skip
    except (OSError, RuntimeError, ValueError) as exc:
        reason = _first_line(exc)
        if path is None:  # a download: the next model of this process does not try again
            reason = download_failed(reason)
        raise WeightsUnavailable(f"cannot get {where}: {reason}") from None
    if model.num_classes != num_classes:
        model.reset_classifier(num_classes)
    return model


def _hf_cache() -> str:
    try:
        from huggingface_hub import constants
    except ImportError:
        return "huggingface_hub is not installed"
    return str(constants.HF_HUB_CACHE)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def timm_version() -> str | None:
    """timm's version, or None when it is not installed."""
    try:
        import timm
    except ImportError:
        return None
    return timm.__version__
