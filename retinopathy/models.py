"""The grader: a registry backbone with a head for the task's classes, and loading it back.

model = build_model("resnet50", num_classes=5, pretrained="auto", finetune="all")
kept = load_run_model(run_dir)         # the run's kept model (best.pt, else last.pt, warned)
kept.model, kept.config, kept.checkpoint.path, kept.epoch
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from retinopathy.config import RunConfig, read_run_config
from shared import backbones
from shared.checkpoint import load_model_weights
from shared.errors import UserError
from shared.runs import KeptCheckpoint, load_kept_checkpoint


def build_model(
    arch: str, num_classes: int, pretrained: str = "no", finetune: str = "all"
) -> nn.Module:
    """``arch`` from the backbone registry (a RunConfig has checked the name); ``pretrained``
    ``no``, ``yes``, ``auto`` or a weights file (:func:`shared.backbones.create`)."""
    try:
        return backbones.create(arch, num_classes, pretrained=pretrained, finetune=finetune)
    except backbones.WeightsError as exc:  # unavailable, corrupt, or not fitting the model
        raise UserError(str(exc)) from None


@dataclass
class KeptModel:
    """A finished run's kept model (in eval mode), the run's config, and the checkpoint it is
    from (its path, its epoch, and why it is not the best model when it is not)."""

    model: nn.Module
    config: RunConfig
    checkpoint: KeptCheckpoint

    @property
    def epoch(self) -> int | None:
        return self.checkpoint.epoch


def load_run_model(run_dir: Path, num_classes: int | None = None) -> KeptModel:
    """The kept model of the run in ``run_dir``: config.json and the checkpoint, each read once."""
    config = read_run_config(run_dir)
    if num_classes is not None and num_classes != config.num_classes:
        raise UserError(
            f"the checkpoint in {run_dir} has {config.num_classes} classes ({config.task}), "
            f"not the {num_classes} this task needs"
        )
    kept = load_kept_checkpoint(run_dir)
    model = build_model(config.arch, config.num_classes, pretrained="no")
    load_model_weights(model, kept.state, kept.path, config.arch)
    return KeptModel(model.eval(), config, kept)


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
