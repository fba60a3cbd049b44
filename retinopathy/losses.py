"""Training criteria: cross-entropy, class-weighted cross-entropy, focal loss.

The engine's ``classification_step`` applies the criterion, and adds Inception v3's auxiliary
logits at weight 0.4 (Szegedy et al. 2016) while training; they are ignored at evaluation.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

LOSS_CHOICES = ("ce", "focal")


class FocalLoss(nn.Module):
    """Cross-entropy scaled by (1 - p_t)^gamma: easy, confidently right examples count less."""

    def __init__(self, weight: torch.Tensor | None = None, gamma: float = 2.0) -> None:
        super().__init__()
        self.register_buffer("weight", weight)
        self.gamma = gamma

    def forward(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        log_p = F.log_softmax(logits.float(), dim=1)
        ce = F.nll_loss(log_p, target, weight=self.weight, reduction="none")
        p_t = log_p.gather(1, target[:, None]).squeeze(1).exp()
        loss = (1 - p_t) ** self.gamma * ce
        if self.weight is None:
            return loss.mean()
        return loss.sum() / self.weight[target].sum()


def make_criterion(
    kind: str = "ce", class_weights: Sequence[float] | None = None, label_smoothing: float = 0.0
) -> nn.Module:
    """``ce`` or ``focal``, optionally with per-class weights (a vector of ``num_classes``);
    ``label_smoothing`` (cross-entropy only) mixes that share of a uniform target over every
    class into each one-hot target."""
    weight = None if class_weights is None else torch.as_tensor(class_weights, dtype=torch.float)
    if kind == "ce":
        return nn.CrossEntropyLoss(weight=weight, label_smoothing=label_smoothing)
    if label_smoothing:
        raise ValueError(f"label smoothing needs the ce loss, not {kind!r}")
    if kind == "focal":
        return FocalLoss(weight=weight)
    raise ValueError(f"unknown loss {kind!r}; choose one of {LOSS_CHOICES}")
