"""A trainer's state in and out of ``checkpoints/``: what makes a killed run resume exactly.

``checkpoints/last.pt`` is written at every epoch end and, with ``checkpoint_every=N``, every N
optimiser steps; it holds the model, optimiser, scheduler, grad scaler, counters (epoch, batch
within the epoch, step), the best value, the early-stopping count, the epoch's running averages,
every rank's RNG states and the thread count the run computes with (float reductions depend on
it). The run's settings are not in it: they live once, in ``config.json``, and a resume refuses
settings that differ from them, and warns when the library versions recorded there are not the
ones running now (the bit-identity needs the same versions).

``best.pt`` is written before ``last.pt``: killed in between, the run resumes from the previous
``last.pt``, trains that epoch again and rewrites both, so a best model is never missing.
"""

from __future__ import annotations

import shutil
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import torch

from shared.atomic import atomic_path, remove_stale_temporaries
from shared.checkpoint import load_checkpoint, save_checkpoint
from shared.distributed import all_gather_object
from shared.errors import UserError
from shared.rng import capture_rng_state, restore_rng_state, seed_everything
from shared.runs import warn_other_versions

if TYPE_CHECKING:
    from shared.engine.trainer import Trainer

# Settings that do not change what is computed, so a resumed run may use other values.
MAY_CHANGE_ON_RESUME = frozenset({"num_workers", "checkpoint_every", "plots"})
COUNTERS = ("epoch", "batch", "step", "best", "best_epoch", "bad_epochs", "stopped_early")


def trainer_state(trainer: Trainer) -> dict[str, Any]:
    """Everything a resumed run needs, as tensors and plain containers. Collective under DDP."""
    scheduler = trainer.scheduler
    return {
        "model": trainer.model.state_dict(),
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
    trainer.model.load_state_dict(state["model"])
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


def save(trainer: Trainer, best: bool = False) -> None:
    """last.pt, and best.pt first when this state is the best; every rank calls, rank 0 writes."""
    state = trainer_state(trainer)
    if not trainer.is_main:
        return
    run = trainer.run
    if best:
        save_checkpoint(run.best, state)
        with atomic_path(run.last, durable=True) as tmp:
            shutil.copyfile(run.best, tmp)  # cheaper than serialising the state twice
    else:
        save_checkpoint(run.last, state)


def resume(trainer: Trainer) -> bool:
    """Load last.pt into ``trainer``; True when the run had already finished."""
    run = trainer.run
    if trainer.is_main:
        remove_stale_temporaries(run.checkpoints)
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
    if trainer.is_main:
        trainer.metrics_log.truncate(trainer.epoch)
    if trainer.finished:
        how = "stopped early" if trainer.stopped_early else "all epochs done"
        trainer.say(f"{run.root} has already finished ({how}, {trainer.epoch} epochs)")
        return True
    trainer.say(
        f"resuming {run.root} at epoch {trainer.epoch + 1}, batch {trainer.batch} "
        f"(step {trainer.step})"
    )
    return False


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
