"""Linear learning-rate warmup over the first ``TrainConfig.warmup_epochs`` epochs, step by step.

The warmup scales the rate of each optimiser step (step ``s`` of ``n`` warmup steps takes
``(s + 1) / n`` of the scheduled rate) and gives the scheduled rate back right after: the
epoch schedulers (step, cosine, plateau) never see the scaled value, so they run as planned, and
the factor depends only on the step count, which makes the warmup part of an exact resume for
free. metrics.csv's ``lr`` is the scheduled rate.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager

import torch


def warmup_steps(warmup_epochs: float, steps_per_epoch: int) -> int:
    """Optimiser steps the warmup lasts."""
    return math.ceil(warmup_epochs * steps_per_epoch)


def warmup_factor(step: int, steps: int) -> float:
    """The share of the scheduled rate the step numbered ``step`` (from 0) takes."""
    return 1.0 if step >= steps else (step + 1) / steps


@contextmanager
def warmed_up(optimizer: torch.optim.Optimizer, step: int, steps: int) -> Iterator[None]:
    """The optimiser's rates scaled for step ``step`` of the warmup inside the block."""
    factor = warmup_factor(step, steps)
    if factor == 1.0:
        yield
        return
    scheduled = [group["lr"] for group in optimizer.param_groups]
    for group, lr in zip(optimizer.param_groups, scheduled, strict=True):
        group["lr"] = lr * factor
    try:
        yield
    finally:
        for group, lr in zip(optimizer.param_groups, scheduled, strict=True):
            group["lr"] = lr
