"""A trainer's state in and out of ``checkpoints/``: what makes a killed run resume exactly.

``checkpoints/last.pt`` is written at every epoch end and, with ``checkpoint_every=N``, every N
optimiser steps; it holds the model, optimiser, scheduler, grad scaler, counters (epoch, batch
within the epoch, step), the best value, the early-stopping count, the epoch's running averages,
every rank's RNG states and the thread count the run computes with (float reductions depend on
it). The run's settings are not in it: they live once, in ``config.json``, and a resume refuses
settings that differ from them, and warns when the library versions recorded there are not the
ones running now (the bit-identity needs the same versions).

``best.pt`` holds only what inference reads (:data:`INFERENCE_STATE`: the kept weights, the
architecture, the counters), and is written before ``last.pt``: killed in between, the run
resumes from the previous ``last.pt``, trains that epoch again and rewrites both, so a best model
is never missing. A run whose ``best.pt`` is gone anyway (deleted, or lost by an older version)
gets it back on resume when ``last.pt`` is the best epoch's state, and a warning when it is not.
A resume first deletes the temporary files killed writes left anywhere in the run folder.
"""

from __future__ import annotations

import dataclasses
import math
import shlex
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from shared.checkpoint import CheckpointError, load_checkpoint, load_model_weights, save_checkpoint
from shared.distributed import all_gather_object
from shared.engine.config import TrainConfig
from shared.engine.ema import ema_state, load_ema, trained_weights
from shared.errors import UserError
from shared.rng import capture_rng_state, restore_rng_state, seed_everything
from shared.runs import remove_run_temporaries, warn_other_versions, write_config

if TYPE_CHECKING:
    from shared.engine.trainer import Trainer

# Settings that do not change what is computed, so a resumed run may use other values.
MAY_CHANGE_ON_RESUME = frozenset({"num_workers", "checkpoint_every", "plots"})
COUNTERS = ("epoch", "batch", "step", "best", "best_epoch", "bad_epochs", "stopped_early")
TRAINING_STATE = ("optimizer", "scheduler", "scaler", *COUNTERS, "meters", "history", "rng")


def trainer_state(trainer: Trainer) -> dict[str, Any]:
    """Everything a resumed run needs, as tensors and plain containers. Collective under DDP."""
    scheduler = trainer.scheduler
    return {
        "arch": trainer.arch,
        **ema_state(trainer.ema, trainer.model),
        "optimizer": trainer.optimizer.state_dict(),
        "scheduler": scheduler.state_dict() if scheduler is not None else None,
        "scaler": trainer.scaler.state_dict(),
        **{key: getattr(trainer, key) for key in COUNTERS},
        "meters": trainer.meters.state_dict(),
        "history": list(trainer.history),
        "threads": torch.get_num_threads(),
        "rng": all_gather_object(capture_rng_state()),  # one entry per rank
    }


def load_trainer_state(trainer: Trainer, state: Mapping[str, Any]) -> None:
    path = trainer.run.last
    load_model_weights(trainer.model, trained_weights(state, trainer.ema), path, trainer.arch)
    load_ema(trainer.ema, state)
    missing = [key for key in TRAINING_STATE if key not in state]
    if missing:
        raise CheckpointError(f"{path} is not a training checkpoint (no {', '.join(missing)})")
    trainer.optimizer.load_state_dict(state["optimizer"])
    if trainer.scheduler is not None and state["scheduler"] is not None:
        trainer.scheduler.load_state_dict(state["scheduler"])
    if state["scaler"]:
        trainer.scaler.load_state_dict(state["scaler"])
    for key in COUNTERS:
        setattr(trainer, key, state[key])
    trainer.meters = type(trainer.meters)(state["meters"])
    trainer.history = [dict(row) for row in state["history"]]
    threads = state.get("threads")
    if threads and threads != torch.get_num_threads():
        trainer.say(f"using the run's {threads} CPU thread(s), as it was trained with")
        torch.set_num_threads(threads)
    rng = state["rng"]
    restore_rng_state(rng[trainer.rank % len(rng)])


# What best.pt keeps of a training state: what inference and the run's bookkeeping read (the
# kept weights, the architecture, the counters, the thread count). The optimiser's moments alone
# are twice the weights under Adam; resuming needs them, and resuming reads last.pt.
INFERENCE_STATE = ("arch", "model", *COUNTERS, "threads")


def inference_state(state: Mapping[str, Any]) -> dict[str, Any]:
    """The part of a training state best.pt holds (:data:`INFERENCE_STATE`)."""
    return {key: state[key] for key in INFERENCE_STATE if key in state}


def save(trainer: Trainer, best: bool = False) -> None:
    """last.pt, and best.pt first when this state is the best; every rank calls, rank 0 writes."""
    state = trainer_state(trainer)
    if not trainer.is_main:
        return
    run = trainer.run
    if best:
        save_checkpoint(run.best, inference_state(state))
    save_checkpoint(run.last, state)


def resume(trainer: Trainer) -> bool:
    """Load last.pt into ``trainer``; True when the run had already finished."""
    run = trainer.run
    if trainer.is_main:
        remove_run_temporaries(run.root, mine=True)  # nothing of this process is in flight yet
    if not run.last.is_file():
        trainer.say(f"{run.root}: no checkpoint yet, starting from the beginning")
        if trainer.is_main:
            trainer.metrics_log.truncate(0)
        seed_everything(trainer.config.seed + trainer.rank)
        return False
    check_same_settings(trainer)
    if trainer.is_main:
        warn_other_versions(trainer.run_config)
    load_trainer_state(trainer, load_checkpoint(run.last))
    replan_cosine(trainer)
    if trainer.is_main:
        trainer.metrics_log.truncate(trainer.epoch)
        restore_best(trainer)
    if trainer.finished:
        how = "stopped early" if trainer.stopped_early else "all epochs done"
        more = "" if trainer.stopped_early else "; more epochs (--epochs) continue it"
        trainer.say(f"{run.root} has already finished ({how}, {trainer.epoch} epochs){more}")
        return True
    trainer.say(
        f"resuming {run.root} at epoch {trainer.epoch + 1}, batch {trainer.batch} "
        f"(step {trainer.step})"
    )
    return False


def planned_epochs(run: str | Path, planned: int, asked: int | None) -> int | None:
    """The epoch count a resume asked for (``asked``) when it grows the run's plan, said once;
    None when it leaves the plan as it is. Fewer epochs than planned are refused."""
    if asked is None or asked == planned:
        return None
    if asked < planned:
        raise UserError(
            f"{run} is planned for {planned} epochs: a resume can add epochs, not remove them"
        )
    print(f"{run}: continuing to {asked} epochs (planned for {planned})", flush=True)
    return asked


def with_epochs(recipe: str, epochs: int) -> str:
    """A recorded recipe whose run a resume grew to ``epochs``: the same command, that count."""
    words = shlex.split(recipe)
    if "--epochs" in words:
        words[words.index("--epochs") + 1] = str(epochs)
    else:
        words += ["--epochs", str(epochs)]
    return shlex.join(words)


def grown_plan(run: str | Path, config: dict[str, Any], asked: int | None) -> TrainConfig:
    """A run's engine settings from its config.json (``config``); ``asked`` epochs above the
    planned count grow them (:func:`planned_epochs`), written back to the run's config.json with
    the recipe's ``--epochs``."""
    train = TrainConfig.from_dict(config["train"])
    grown = planned_epochs(run, train.epochs, asked)
    if grown is None:
        return train
    train = dataclasses.replace(train, epochs=grown)
    config.update(recipe=with_epochs(config.get("recipe", ""), grown), train=train.to_dict())
    write_config(run, config)
    return train


def replan_cosine(trainer: Trainer) -> None:
    """A cosine schedule planned for another epoch count than the config's (a resume that adds
    epochs) continues on the cosine of the new count: from the next epoch on, each epoch has the
    learning rate of a run planned for the new count from the start. The epochs already trained
    keep the rates they had, so only schedules that do not depend on the count (none, step,
    plateau) make the grown run equal to a straight one."""
    scheduler = trainer.scheduler
    epochs = trainer.config.epochs
    if not isinstance(scheduler, torch.optim.lr_scheduler.CosineAnnealingLR):
        return
    if scheduler.T_max == epochs:
        return
    scheduler.T_max = epochs
    # The closed form: the recursive update the scheduler steps with carries on from any point
    # of the new curve, but from the old curve's end (the minimum) it would stay there.
    share = (1 + math.cos(math.pi * scheduler.last_epoch / epochs)) / 2
    for group, base in zip(trainer.optimizer.param_groups, scheduler.base_lrs, strict=True):
        group["lr"] = scheduler.eta_min + (base - scheduler.eta_min) * share
    scheduler._last_lr = [group["lr"] for group in trainer.optimizer.param_groups]


def restore_best(trainer: Trainer) -> None:
    """Rebuild a missing ``best.pt`` from ``last.pt`` when that is the best epoch's state."""
    run, best = trainer.run, trainer.best_epoch
    if best is None or run.best.is_file():
        return
    if trainer.epoch == best and trainer.batch == 0:
        save_checkpoint(run.best, inference_state(load_checkpoint(run.last)))
        trainer.say(f"{run.best} was missing: rebuilt from last.pt, the best epoch's ({best})")
        return
    warnings.warn(
        f"{run.best} (the best epoch, {best}) is missing and cannot be rebuilt from last.pt "
        f"(epoch {trainer.epoch}); until an epoch beats it, the kept model is last.pt",
        stacklevel=2,
    )


def check_same_settings(trainer: Trainer) -> None:
    """The trainer's settings must be the run's own (config.json), but for harmless ones."""
    saved = trainer.run_config.get("train", {})
    current = trainer.config.to_dict()
    differ = [k for k in current if k not in MAY_CHANGE_ON_RESUME and saved.get(k) != current[k]]
    if differ:
        changes = ", ".join(f"{k} {saved.get(k)!r} -> {current[k]!r}" for k in differ)
        raise UserError(
            f"cannot resume {trainer.run.root} exactly with other settings ({changes}); "
            "resume with the run's own config"
        )
