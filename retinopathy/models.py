"""The grader: a registry backbone with a head for the task's classes, and loading it back.

model = build_model("resnet50", num_classes=5, pretrained="auto", finetune="all")
kept = load_run_model(run_dir)         # the run's kept model (best.pt, else last.pt)
kept.model, kept.config, kept.epoch
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from retinopathy.config import RunConfig, read_run_config
from shared import backbones
from shared.errors import UserError
from shared.runs import load_kept_checkpoint


def build_model(
    arch: str, num_classes: int, pretrained: str = "no", finetune: str = "all"
) -> nn.Module:
    """``arch`` from the backbone registry (a RunConfig has checked the name)."""
    try:
        return backbones.create(arch, num_classes, pretrained=pretrained, finetune=finetune)
    except (backbones.WeightsUnavailable, backbones.WeightsCorrupt) as exc:
        raise UserError(str(exc)) from None


@dataclass
class KeptModel:
    """A finished run's kept model (in eval mode), the run's config, and the epoch it is from."""

    model: nn.Module
    config: RunConfig
    epoch: int | None


def load_run_model(run_dir: Path, num_classes: int | None = None) -> KeptModel:
    """The kept model of the run in ``run_dir``: config.json and the checkpoint, each read once."""
    config = read_run_config(run_dir)
    if num_classes is not None and num_classes != config.num_classes:
        raise UserError(
            f"the checkpoint in {run_dir} has {config.num_classes} classes ({config.task}), "
            f"not the {num_classes} this task needs"
        )
    _, state = load_kept_checkpoint(run_dir)
    model = build_model(config.arch, config.num_classes, pretrained="no")
    try:
        model.load_state_dict(state["model"])
    except RuntimeError as exc:
        first = str(exc).strip().splitlines()[0]
        raise UserError(
            f"the checkpoint in {run_dir} does not fit {config.arch}: {first}"
        ) from None
    return KeptModel(model.eval(), config, state.get("best_epoch") or state.get("epoch"))


def view_probs(model: nn.Module, images: torch.Tensor, tta: bool = False) -> torch.Tensor:
    """Class probabilities of a batch; with ``tta``, averaged over its flips.

    A fundus has no canonical orientation, so the photo flipped left-right or upside down is an
    equally valid view of the same eye.
    """
    views = [images, images.flip(-1), images.flip(-2)] if tta else [images]
    return torch.stack([model(v).float().softmax(1) for v in views]).mean(0)


@torch.no_grad()
def predict_probs(
    model: nn.Module,
    loader: Iterable[tuple[torch.Tensor, torch.Tensor]],
    device: torch.device,
    tta: bool = False,
    progress: Callable[[Iterable], Iterable] | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Class probabilities and labels for every item of ``loader``, in order."""
    model.eval().to(device)
    probs, labels = [], []
    batches = loader if progress is None else progress(loader)
    for images, target in batches:
        probs.append(view_probs(model, images.to(device), tta).cpu())
        labels.append(torch.as_tensor(target))
    return torch.cat(probs), torch.cat(labels)
