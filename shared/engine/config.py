"""The engine's settings (:class:`TrainConfig`) and the optimiser and scheduler they name.

A ``TrainConfig`` is plain data: stored under ``"train"`` in the run's ``config.json``, rebuilt
from it for a resume. Its field defaults are the one place the engine's defaults are written;
the apps' command lines leave a flag ``None`` to mean "this default".
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, fields
from typing import Any

import torch
from torch import nn

from shared.errors import UserError
from shared.precision import DEFAULT_PRECISION, PRECISION_CHOICES

OPTIMIZERS = ("sgd", "adam", "adamw")
SCHEDULERS = ("none", "step", "cosine", "plateau")


@dataclass
class TrainConfig:
    """The engine's settings: plain data, stored in config.json (under "train")."""

    epochs: int = 10
    batch_size: int = 32
    num_workers: int = 0
    drop_last: bool = False
    optimizer: str = "adam"  # sgd (with momentum) | adam | adamw
    lr: float = 1e-3
    momentum: float = 0.9
    weight_decay: float = 0.0
    scheduler: str = "none"  # none | step | cosine | plateau (on `monitor`)
    step_size: int = 10  # epochs between decays, scheduler="step"
    gamma: float = 0.1
    plateau_factor: float = 0.1
    plateau_patience: int = 5
    accum_steps: int = 1  # batches per optimiser step
    warmup_epochs: float = 0.0  # linear warmup of the rate, step by step (shared.engine.warmup)
    ema: float | None = None  # decay of the weights' moving average kept (shared.engine.ema)
    clip_grad_norm: float | None = None
    # fp32 | bf16 | fp16 (autocast; fp16 with a gradient scaler) | auto: bf16 where the device
    # computes it natively and it pays on this model (shared.precision), resolved and recorded
    # before the first step, like threads
    precision: str = DEFAULT_PRECISION
    channels_last: bool = False
    monitor: str = "val_loss"  # without validation data, val_<x> means train_<x>
    mode: str = "min"  # min | max: which direction of `monitor` is better
    early_stopping_patience: int | None = None  # epochs without improvement before stopping
    checkpoint_every: int = 0  # optimiser steps between mid-epoch checkpoints; 0 = epoch ends
    seed: int = 0
    # CPU threads the run computes with: float reductions depend on the count. The command sets
    # it around the whole run (shared.threads.cpu_threads), for what it computes before the
    # first step too (data statistics, loss targets); None: chosen by load, then recorded.
    threads: int | None = None
    plots: bool = True  # plots/curves.png at each epoch end

    def __post_init__(self) -> None:
        choices = {
            "optimizer": OPTIMIZERS,
            "scheduler": SCHEDULERS,
            "mode": ("min", "max"),
            "precision": PRECISION_CHOICES,
        }
        for name, allowed in choices.items():
            if getattr(self, name) not in allowed:
                raise UserError(
                    f"{name} must be one of {', '.join(allowed)}, not {getattr(self, name)!r}"
                )
        minimum = {"epochs": 1, "batch_size": 1, "accum_steps": 1, "num_workers": 0,
                   "checkpoint_every": 0, "seed": 0, "step_size": 1, "plateau_patience": 0,
                   "momentum": 0, "weight_decay": 0, "early_stopping_patience": 1}  # fmt: skip
        for name, low in minimum.items():
            value = getattr(self, name)
            if value is not None and value < low:
                raise UserError(f"{name} must be >= {low}, not {value}")
        for name in ("lr", "gamma", "plateau_factor", "clip_grad_norm"):
            value = getattr(self, name)
            if value is not None and not value > 0:  # "not >": NaN is refused too
                raise UserError(f"{name} must be positive, not {value}")
        if not self.warmup_epochs >= 0:
            raise UserError(f"warmup_epochs must be >= 0, not {self.warmup_epochs}")
        if self.ema is not None and not 0 < self.ema < 1:
            raise UserError(f"ema (the decay) must lie strictly between 0 and 1, not {self.ema}")
        if self.threads is not None and self.threads < 1:
            raise UserError(f"threads must be at least 1, not {self.threads}")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TrainConfig:
        """Rebuild from :meth:`to_dict`; an unknown key is an error (a typo, or another version)."""
        data = dict(data)
        if "amp" in data and "precision" not in data:  # runs recorded before --precision
            data["precision"] = "bf16" if data.pop("amp") else "fp32"
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise UserError(f"unknown training setting(s): {', '.join(unknown)}")
        return cls(**data)


def build_optimizer(params: Iterable[nn.Parameter], config: TrainConfig) -> torch.optim.Optimizer:
    params = list(params)
    if config.optimizer == "sgd":
        return torch.optim.SGD(
            params, lr=config.lr, momentum=config.momentum, weight_decay=config.weight_decay
        )
    cls = torch.optim.Adam if config.optimizer == "adam" else torch.optim.AdamW
    return cls(params, lr=config.lr, weight_decay=config.weight_decay)


def build_scheduler(optimizer: torch.optim.Optimizer, config: TrainConfig) -> Any:
    """Stepped once per epoch; ``plateau`` with the monitored value."""
    if config.scheduler == "step":
        return torch.optim.lr_scheduler.StepLR(optimizer, config.step_size, config.gamma)
    if config.scheduler == "cosine":
        return torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=config.epochs)
    if config.scheduler == "plateau":
        return torch.optim.lr_scheduler.ReduceLROnPlateau(
            optimizer, mode=config.mode, factor=config.plateau_factor,
            patience=config.plateau_patience,
        )  # fmt: skip
    return None
