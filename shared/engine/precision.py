"""The precision a training run computes in, chosen once and recorded like its thread count.

``TrainConfig.precision`` ``auto`` is resolved when the Trainer is built: bfloat16 autocast where
the device computes it natively and a forward pass of this model on a batch of this data is
faster in it (:mod:`shared.precision`), else float32. The choice is written back into the
config (and ``config.json``), so a resume computes in the same precision and stays exact; under
DDP every rank takes rank 0's choice, as timing on each rank could differ.

A trained model is evaluated (and applied) in the precision it recorded
(:func:`inference_precision`): its validation numbers, and so its kept checkpoint, were measured
in it, and the same precision gives the same numbers again.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.utils.data import Dataset, default_collate

from shared.distributed import all_gather_object
from shared.engine.config import TrainConfig
from shared.precision import (
    NAMES,
    dtype_of,
    mixed_precision_pays,
    native_fp16,
    resolve_precision,
)
from shared.runs import RunPaths, read_config, write_config

EXAMPLE_ITEMS = 2  # a batch this small times the model's arithmetic, not the data loading


def example_input(
    data: Dataset, device: torch.device, channels_last: bool = False
) -> torch.Tensor | None:
    """A small batch of ``data``'s inputs on ``device`` (an item, or the first field of a tuple
    item); None when the data are not tensors the model takes directly."""
    try:
        items = [data[i] for i in range(min(EXAMPLE_ITEMS, len(data)))]  # type: ignore[arg-type]
    except (TypeError, IndexError):
        return None
    batch: Any = default_collate(items) if items else None
    if isinstance(batch, (list, tuple)):
        batch = batch[0] if batch else None
    if not isinstance(batch, torch.Tensor) or not batch.is_floating_point():
        return None
    batch = batch.to(device)
    return batch.contiguous(memory_format=torch.channels_last) if channels_last else batch


def resolve_training_precision(
    config: TrainConfig,
    model: nn.Module,
    data: Dataset,
    device: torch.device,
    run_dir: str | Path | None = None,
) -> torch.dtype:
    """The run's dtype; ``config.precision`` ``auto`` is replaced by the name chosen, or by the
    one the run in ``run_dir`` recorded (a resume must not choose again)."""
    recorded = recorded_precision(run_dir) if run_dir is not None else None
    if config.precision == "auto" and recorded not in (None, "auto"):
        config.precision = recorded
    if config.precision == "auto":
        example = example_input(data, device, config.channels_last)
        pays = None if example is None else mixed_precision_pays(model, example, device)
        chosen = NAMES[resolve_precision("auto", device, pays)]
        config.precision = all_gather_object(chosen)[0]
    return dtype_of(config.precision)


def recorded_precision(run_dir: str | Path) -> str | None:
    """The precision the run in ``run_dir`` recorded; None for a new run."""
    if not RunPaths(run_dir).config.is_file():
        return None
    train = read_config(run_dir).get("train")
    return train.get("precision") if isinstance(train, dict) else None


def record_precision(run_dir: str | Path, precision: str, *, write: bool = True) -> dict[str, Any]:
    """The run's config.json, with the resolved ``precision`` in place of ``auto`` (an app writes
    its config before the Trainer resolves it) and written back when ``write``; a resolved record
    is the run's and is kept."""
    config = read_config(run_dir)
    train = config.get("train")
    if isinstance(train, dict) and train.get("precision", "auto") == "auto":
        config = {**config, "train": {**train, "precision": precision}}
        if write:
            write_config(run_dir, config)
    return config


def inference_precision(
    asked: str | None,
    recorded: str | None,
    device: torch.device,
    pays: Callable[[torch.dtype], bool] | None = None,
) -> torch.dtype:
    """The dtype a trained model computes in: ``asked`` (``auto``: chosen for this device as
    training chooses, with ``pays`` the workload's check, the same on every rank); ``asked``
    None: the precision the run recorded, which gives the run's own numbers again, and ``auto``
    for a run that recorded none."""
    if asked is None and recorded not in (None, "auto"):
        if recorded == "fp16" and device.type == "cpu" and not native_fp16(device):
            warnings.warn(
                "the run computed in fp16, which this CPU would emulate (slower than fp32): "
                "computing in fp32 (--precision bf16 or fp32 to choose)",
                stacklevel=2,
            )
            return torch.float32
        return dtype_of(recorded)
    chosen = NAMES[resolve_precision(asked or "auto", device, pays)]
    return dtype_of(all_gather_object(chosen)[0])
