"""The grader: a registry backbone with a head for the task's classes, and loading it back.

model = build_model("resnet50", num_classes=5, pretrained="auto", finetune="all")
kept = load_run_model(run_dir)         # the run's kept model (best.pt, else last.pt, warned)
kept.model, kept.config, kept.checkpoint.path, kept.epoch
dtype = kept.compute_dtype(None, device)   # the precision the run trained in (or as asked)
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
from shared.engine.precision import EXAMPLE_ITEMS, inference_precision
from shared.errors import UserError
from shared.precision import mixed_precision_pays
from shared.runs import KeptCheckpoint, load_kept_checkpoint


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
    """A finished run's kept model (in eval mode), the run's config, and the checkpoint it is
    from (its path, its epoch, and why it is not the best model when it is not)."""

    model: nn.Module
    config: RunConfig
    checkpoint: KeptCheckpoint

    @property
    def epoch(self) -> int | None:
        return self.checkpoint.epoch

    def compute_dtype(self, asked: str | None, device: torch.device) -> torch.dtype:
        """What ``evaluate`` and ``predict`` grade in (under autocast, as training validated):
        ``--precision asked``; None: the precision the run recorded.

        One default for both. ``evaluate`` must use the run's own precision to give the run's
        own numbers again. For ``predict`` bf16 could be faster, but the run's precision is the
        right default there too: the kept checkpoint, the eye-fusion weight and the reported test
        numbers were all measured in it, so predict grades as the report says the model grades;
        bf16 moves the probabilities (by up to 0.003 on the sample set), enough to flip a
        borderline grade. Speed is one flag away (bf16, or auto).
        """
        size = self.config.data.image_size

        def pays(dtype: torch.dtype) -> bool:  # auto's timed check, as training's on this model
            example = torch.zeros(EXAMPLE_ITEMS, 3, size, size, device=device)
            return mixed_precision_pays(self.model.to(device), example, device)(dtype)

        return inference_precision(asked, self.config.train.precision, device, pays)


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
