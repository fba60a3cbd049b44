"""An exponential moving average of the weights (``TrainConfig.ema``, the decay): the model a run
evaluates and keeps.

The average is updated after every optimiser step, buffers (BatchNorm's running statistics)
included, with torch's own :class:`~torch.optim.swa_utils.AveragedModel`. Validation, the kept
model's choice and ``checkpoints/*.pt``'s ``"model"`` are the average, so evaluation and
inference need nothing new; ``last.pt`` also holds the trained weights and the average's update
count, so a resume continues both exactly.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
from torch import nn
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn

TRAINED = "trained_model"  # the checkpoint key of the weights the optimiser steps (with an EMA)
UPDATES = "ema_updates"


def make_ema(model: nn.Module, decay: float | None) -> AveragedModel | None:
    """The average of ``model``'s weights with ``decay`` (None: no averaging)."""
    if decay is None:
        return None
    return AveragedModel(model, multi_avg_fn=get_ema_multi_avg_fn(decay), use_buffers=True)


def ema_state(ema: AveragedModel | None, model: nn.Module) -> dict[str, Any]:
    """A checkpoint's model entries: ``"model"`` the kept weights (the average, when there is
    one), with the trained ones and the update count beside an average."""
    if ema is None:
        return {"model": model.state_dict()}
    return {
        "model": ema.module.state_dict(),
        TRAINED: model.state_dict(),
        UPDATES: int(ema.n_averaged.item()),
    }


def trained_weights(state: Mapping[str, Any], ema: AveragedModel | None) -> Mapping[str, Any]:
    """The checkpoint ``state`` with ``"model"`` the weights the optimiser stepped."""
    return state if ema is None else {**state, "model": state[TRAINED]}


def load_ema(ema: AveragedModel | None, state: Mapping[str, Any]) -> None:
    """Restore the average from a checkpoint :func:`ema_state` wrote."""
    if ema is None:
        return
    ema.module.load_state_dict(state["model"])
    ema.n_averaged.copy_(torch.tensor(state[UPDATES]))
