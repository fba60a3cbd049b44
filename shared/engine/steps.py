"""The default training and validation steps: a classifier on ``(images, labels)`` batches.

``step_fn(model, batch) -> loss | (loss, {"name": value})`` and
``eval_fn(model, batch) -> (loss, outputs, targets)`` are the two hooks an app plugs into the
:class:`~shared.engine.Trainer`; these cover cross-entropy, class-weighted cross-entropy and
Inception v3's ``(logits, aux)`` output.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import nn


def split_logits(output: Any) -> tuple[torch.Tensor, torch.Tensor | None]:
    """``(logits, aux)`` from a model output: Inception v3 returns a namedtuple while training."""
    if isinstance(output, (tuple, list)):
        return output[0], (output[1] if len(output) > 1 else None)
    return output, None


class CriterionOn:
    """The criterion moved (its class weights) to the batch's device, once, not every step."""

    def __init__(self, criterion: nn.Module) -> None:
        self.criterion, self.device = criterion, None

    def __call__(self, device: torch.device) -> nn.Module:
        if device != self.device:
            self.criterion, self.device = self.criterion.to(device), device
        return self.criterion


def classification_step(
    criterion: nn.Module | None = None, aux_weight: float = 0.4
) -> Callable[[nn.Module, Any], tuple[torch.Tensor, dict[str, Any]]]:
    """``step_fn`` for ``(images, labels)``: ``criterion(logits) + aux_weight * criterion(aux)``.

    ``criterion`` defaults to cross-entropy; pass ``nn.CrossEntropyLoss(weight=w)`` for
    class-weighted CE (its weight is moved to the batch's device once).
    """
    crit_on = CriterionOn(criterion or nn.CrossEntropyLoss())

    def step(model: nn.Module, batch: Any) -> tuple[torch.Tensor, dict[str, Any]]:
        images, targets = batch[0], batch[1]
        logits, aux = split_logits(model(images))
        crit = crit_on(logits.device)
        loss = crit(logits, targets)
        if aux is not None:
            loss = loss + aux_weight * crit(aux, targets)
        return loss, {"acc": (logits.detach().argmax(1) == targets).float().mean()}

    return step


def classification_eval(
    criterion: nn.Module | None = None,
) -> Callable[[nn.Module, Any], tuple[torch.Tensor, torch.Tensor, torch.Tensor]]:
    """``eval_fn`` for ``(images, labels)`` batches: ``(loss, logits, labels)``."""
    crit_on = CriterionOn(criterion or nn.CrossEntropyLoss())

    def evaluate_batch(model: nn.Module, batch: Any):
        images, targets = batch[0], batch[1]
        logits, _ = split_logits(model(images))
        return crit_on(logits.device)(logits, targets), logits, targets

    return evaluate_batch


def accuracy_metrics(outputs: torch.Tensor, targets: torch.Tensor) -> dict[str, float]:
    """The default ``metrics_fn``: top-1 accuracy of logits against integer labels."""
    return {"acc": (outputs.argmax(1) == targets).float().mean().item()}
