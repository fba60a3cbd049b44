"""The grader: a registry backbone with a head for the task's classes, and loading it back.

model = build_model("resnet50", num_classes=5, pretrained="auto", finetune="all")
model, head = build_run_model(config)  # the run's backbone with its head (retinopathy.heads)
kept = load_run_model(run_dir)         # the run's kept model (best.pt, else last.pt, warned)
kept.model, kept.head, kept.config, kept.checkpoint.path, kept.epoch
probs, scores, labels = predict_outputs(kept.model, kept.head, loader, device)
dtype = kept.compute_dtype(None, device)   # the precision the run trained in (or as asked)
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from retinopathy.config import RunConfig, read_run_config
from retinopathy.heads import Head, make_head
from shared import backbones
from shared.checkpoint import load_model_weights
from shared.engine.precision import EXAMPLE_ITEMS, inference_precision
from shared.errors import UserError
from shared.precision import mixed_precision_pays
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


def build_run_model(config: RunConfig, pretrained: str | None = None) -> tuple[nn.Module, Head]:
    """The run's model, ``head.attach(backbone)``, and its head; ``pretrained`` None: "no".

    The backbone has the head's ``backbone_outputs`` (the classify head's are the classes, so a
    classify model is exactly :func:`build_model`'s). ``model.pretrained`` says whether the
    backbone loaded ImageNet weights.
    """
    head = run_head(config)
    backbone = build_model(config.arch, head.backbone_outputs, pretrained or "no", config.finetune)
    model = head.attach(backbone)
    model.pretrained = bool(getattr(backbone, "pretrained", False))
    return model, head


def run_head(config: RunConfig) -> Head:
    """The head the run trained with (runs recorded before heads existed: classify)."""
    return make_head(config.head, config.num_classes, config.loss)


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

    @property
    def head(self) -> Head:
        return run_head(self.config)

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
    model, head = build_run_model(config)
    try:
        load_model_weights(model, kept.state, kept.path, config.arch)
    except UserError as exc:  # a checkpoint of another head: say which head the run expects
        raise UserError(f"{exc} (config.json: the {head.name} head)") from None
    return KeptModel(model.eval(), config, kept)


def view_probs(model: nn.Module, images: torch.Tensor, tta: bool = False) -> torch.Tensor:
    """Class probabilities of a batch from a classify model's logits (see :func:`view_outputs`)."""
    return view_outputs(model, make_head("classify", 2), images, tta)[0]


def view_outputs(
    model: nn.Module, head: Head, images: torch.Tensor, tta: bool = False
) -> tuple[torch.Tensor, torch.Tensor]:
    """The head's class probabilities (N, K) and scores (N,) of a batch; with ``tta`` each is
    averaged over the photo's flips.

    A fundus has no canonical orientation, so the photo flipped left-right or upside down is an
    equally valid view of the same eye. Every head's score is linear in its view's output
    (the regressed value) or its probabilities (the expected grade), so the mean score is the
    score of the mean where that applies.
    """
    views = [images, images.flip(-1), images.flip(-2)] if tta else [images]
    outputs = [model(v) for v in views]
    # float: under autocast a head's arithmetic (the expected grade's product) may come back in
    # the reduced precision
    probs = torch.stack([head.probabilities(o).float() for o in outputs]).mean(0)
    scores = torch.stack([head.score(o).float() for o in outputs]).mean(0)
    return probs, scores


@torch.no_grad()
def predict_probs(
    model: nn.Module,
    loader: Iterable[tuple[torch.Tensor, torch.Tensor]],
    device: torch.device,
    tta: bool = False,
    progress: Callable[[Iterable], Iterable] | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Class probabilities and labels for every item of ``loader``, in order (a classify model)."""
    classify = make_head("classify", 2)
    probs, _, labels = predict_outputs(model, classify, loader, device, tta, progress)
    return probs, labels


@torch.no_grad()
def predict_outputs(
    model: nn.Module,
    head: Head,
    loader: Iterable[tuple[torch.Tensor, torch.Tensor]],
    device: torch.device,
    tta: bool = False,
    progress: Callable[[Iterable], Iterable] | None = None,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The head's class probabilities and scores, and the labels, of every item, in order."""
    model.eval().to(device)
    probs, scores, labels = [], [], []
    batches = loader if progress is None else progress(loader)
    for images, target in batches:
        p, s = view_outputs(model, head, images.to(device), tta)
        probs.append(p.cpu())
        scores.append(s.cpu())
        labels.append(torch.as_tensor(target))
    return torch.cat(probs), torch.cat(scores), torch.cat(labels)
