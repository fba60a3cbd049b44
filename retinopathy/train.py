"""Train a grader, then evaluate it on the held-out test set and write the report.

    from retinopathy.config import RunConfig
    from retinopathy.train import resume, train
    run_dir = train(RunConfig.from_options(arch="resnet50", sampling="balanced"))
    resume(run_dir)     # continue a killed run: it ends where an uninterrupted one does

Everything lands in the run folder: config.json, split.csv, metrics.csv, checkpoints/{last,best}.pt,
plots/, report.md. The device is chosen first and the run folder made last, so bad input (an
absent GPU, an unknown architecture, an unreadable dataset) leaves nothing behind. A ``run``
folder that exists must be empty: one holding anything else is refused before any work, untouched.
The CPU thread count (``threads``, else chosen by load) is chosen once, before the first
computation (the dataset's mean and std are float reductions too), and recorded; a resume
computes with it.

Under ``torchrun`` every rank prepares its share of the photos and trains; rank 0 alone names and
writes the one run folder (config, split, metrics, checkpoints, plots, report).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch

from retinopathy.config import APP, RunConfig, read_run_config
from retinopathy.data.prepared import problems_line
from retinopathy.data.run_data import RunData
from retinopathy.data.samplers import class_weights, sample_weights
from retinopathy.data.sources import detect_format
from retinopathy.epoch_figures import ValidationCapture, epoch_figures
from retinopathy.evaluate import evaluate_run
from retinopathy.heads import Head, head_eval, head_step
from retinopathy.losses import make_criterion
from retinopathy.metrics import compute_metrics, scalar_metrics
from retinopathy.models import build_run_model, run_head
from retinopathy.prepare import prepare_sources, reopen
from retinopathy.provenance import run_provenance, trained_on_record
from retinopathy.resume_options import changed_options, flag_of
from retinopathy.tasks import Task
from retinopathy.training_state import prune_training_state, pruned, refuse_to_continue
from shared.backbones import weights_line, weights_record
from shared.device import describe, pick_device
from shared.distributed import (
    barrier,
    init_distributed,
    is_distributed,
    is_main_process,
    world_size,
)
from shared.engine import Trainer
from shared.engine.resume import planned_epochs
from shared.engine.tensorboard import TensorBoardLog
from shared.errors import UserError
from shared.rng import seed_everything
from shared.runs import (
    check_new_run_dir,
    new_run_dir,
    read_config,
    require_run_dir,
    warn_other_versions,
    write_config,
)
from shared.threads import choose_threads, cpu_threads, resumed_threads


def train(config: RunConfig, run: str | Path | None = None) -> Path:
    """Train a new run (in the folder ``run``, default a new one under runs/), evaluate it.

    Returns the run folder.
    """
    device = pick_device(config.device)
    init_distributed(device)
    if run is not None:
        check_new_run_dir(run)
    config.check_weights_file()
    config.train.threads = choose_threads(config.train.threads)
    config.data.threads = config.data.threads or config.train.threads  # its prepare's too
    with cpu_threads(config.train.threads):
        return _train(config, device, run)


def _train(config: RunConfig, device: torch.device, run: str | Path | None) -> Path:
    prepared, config.sources = prepare_sources(config.data)
    data = RunData.split_anew(prepared, config)
    config.mean, config.std, config.prepared = data.mean, data.std, str(prepared.folder)
    seed_everything(config.train.seed)  # the initial weights are part of the recipe
    model, _ = build_run_model(config, config.pretrained)
    config.pretrained_loaded = bool(getattr(model, "pretrained", False))
    config.init_weights = weights_record(config.arch, config.pretrained, config.pretrained_loaded)
    config.trained_on = trained_on_record(len(data.train) + len(data.val) + len(data.test),
                                          _data_format(config))  # fmt: skip
    run_dir = new_run_dir(APP, f"{config.arch}-{config.task}", run=run)
    if is_main_process():
        data.save_split(run_dir)
        write_config(run_dir, config.to_json())
    barrier()  # every rank's Trainer reads the config rank 0 wrote
    _fit(run_dir, config, data, model, device, resume=False)
    prune_training_state(run_dir, config.keep_last)
    return run_dir


def _data_format(config: RunConfig) -> str | None:
    """The format the photos were read in: the one given, else detected; None: the sample set;
    several datasets: each one's, in order (``aptos + eyepacs``)."""
    if config.sources:
        return " + ".join(str(s.get("format")) for s in config.sources)
    if config.data.on_sample_set:
        return None
    return config.data.format or detect_format(config.data.data)


def resume(
    run: str | Path,
    threads: int | None = None,
    epochs: int | None = None,
    options: Mapping[str, Any] | None = None,
) -> Path:
    """Continue the killed run in ``run`` with its own config, data, device and thread count
    (``threads``: only for a run that recorded none); evaluate it.

    ``epochs`` more than the run was planned for continues it to that count (a finished run
    too); ``options`` (flat, as for :meth:`RunConfig.from_options`) must be the run's own.
    """
    run_dir = require_run_dir(run).root
    config = read_run_config(run_dir)
    changed = changed_options(config, options or {})
    if changed:
        flags = ", ".join(flag_of(name) for name in changed)
        raise UserError(
            f"cannot resume {run_dir} with other settings ({flags}): a resume keeps the run's "
            "own, and may only add epochs (--epochs)"
        )
    for flag in ("tensorboard", "keep_last"):  # asked for now: taken on
        setattr(config, flag, getattr(config, flag) or bool((options or {}).get(flag)))
    ended = pruned(run_dir)
    if ended and epochs is not None and epochs > config.train.epochs:
        refuse_to_continue(run_dir, epochs)
    device = pick_device(config.device)
    init_distributed(device)
    if epochs is not None and _plan_more_epochs(config, epochs, run_dir) and is_main_process():
        write_config(run_dir, config.to_json())
    barrier()  # the Trainer of every rank reads the config rank 0 wrote
    with cpu_threads(resumed_threads(config.train.threads, threads)):
        data = RunData.of_run(reopen(config), config, run_dir)
        if ended:  # finished, nothing to train: evaluated again, as a finished run is
            if is_main_process():
                warn_other_versions(read_config(run_dir))
            evaluate_run(run_dir, data, device)
            return run_dir
        model, _ = build_run_model(config)
        _fit(run_dir, config, data, model, device, resume=True)
    prune_training_state(run_dir, config.keep_last)
    return run_dir


def _plan_more_epochs(config: RunConfig, epochs: int, run_dir: Path) -> bool:
    """Whether ``epochs`` grows the run's plan (recorded in ``config``); fewer is refused."""
    grown = planned_epochs(run_dir, config.train.epochs, epochs)
    if grown is None:
        return False
    config.extended_from = [*config.extended_from, config.train.epochs]
    config.train.epochs = grown
    return True


def loss_weights(config: RunConfig, labels: list[int]) -> list[float] | None:
    """Per-class loss weights: inverse frequency scaled to average 1 over the training photos."""
    option = config.class_weights
    if option == "none":
        return None
    if option == "inverse":
        w = class_weights(labels, 1.0)
        w = w * len(labels) / (w[np.asarray(labels)].sum())
        return w.round(6).tolist()
    return list(option)


def validation_metrics(
    task: Task, head: Head
) -> Callable[[torch.Tensor, torch.Tensor], dict[str, float]]:
    """The engine's per-epoch validation metrics, named as metrics.csv's columns.

    The head's class probabilities; its predicted classes at the default cut points (the
    classify head: argmax, or 0.5 on a two-class task, as before heads existed).
    """

    def metrics_fn(outputs: torch.Tensor, targets: torch.Tensor) -> dict[str, float]:
        probs = head.probabilities(outputs).numpy()
        y_pred = None if head.name == "classify" else head.predict_classes(outputs).numpy()
        m = compute_metrics(targets.numpy(), probs, task, y_pred=y_pred)
        out = scalar_metrics(m)
        out["f1"] = out.pop("macro_f1")
        out["acc"] = out.pop("accuracy")  # pairs with the engine's train_acc in curves
        return out

    return metrics_fn


def _logs(
    config: RunConfig, data: RunData, run_dir: Path, head: Head, metrics_fn: Any
) -> dict[str, Any]:
    """The Trainer's ``metrics_fn`` and ``callbacks``: with ``--tensorboard``, an event log whose
    figures come from the validation outputs the metrics are computed on."""
    if not config.tensorboard:
        return {"metrics_fn": metrics_fn}
    capture = ValidationCapture(metrics_fn)
    figures = epoch_figures(data.task, capture, data.val, head.predict_classes)
    return {"metrics_fn": capture, "callbacks": [TensorBoardLog(run_dir, figures)]}


def _fit(
    run_dir: Path,
    config: RunConfig,
    data: RunData,
    model: torch.nn.Module,
    device: torch.device,
    resume: bool,
) -> Path:
    """Train (or continue) the run in ``run_dir``, then evaluate it. Returns the report path."""
    task, head = data.task, run_head(config)
    weights = loss_weights(config, data.train.labels)
    sampler = (
        sample_weights(data.train.labels, config.sampling).tolist() if config.sampling > 0 else None
    )
    init = weights_line(config.weights)
    shown = f"{task.name}, {head.name} head ({head.loss})"
    ranks = f" x {world_size()} ranks" if is_distributed() else ""
    if is_main_process():
        print(f"data: {problems_line(data.prepared)}", flush=True)
        print(f"model: {run_provenance(run_dir, config).sentence}", flush=True)
        print(
            f"{config.arch} ({init}), {shown}, {config.data.image_size} px, on "
            f"{describe(device)}{ranks}; train/val/test {len(data.train)}/{len(data.val)}/"
            f"{len(data.test)} photos; run {run_dir}",
            flush=True,
        )
    trainer = Trainer(
        model,
        data.train,
        data.val,
        config=config.train,
        run_dir=run_dir,
        device=device,
        step_fn=head_step(head, _training_criterion(head, weights, config.label_smoothing)),
        eval_fn=head_eval(head, _validation_criterion(head)),
        **_logs(config, data, run_dir, head, validation_metrics(task, head)),
        sampler_weights=sampler,
        arch=config.arch,
    )
    trainer.fit(resume=resume)
    barrier()  # rank 0 has written the last checkpoint that every rank evaluates
    return evaluate_run(run_dir, data, device)


def _training_criterion(
    head: Head, weights: list[float] | None, label_smoothing: float
) -> torch.nn.Module:
    """The head's training loss; with label smoothing (the classify head's cross-entropy only, as
    the config checks), that cross-entropy smoothed."""
    if label_smoothing:
        return make_criterion("ce", weights, label_smoothing)
    return head.criterion(weights)


def _validation_criterion(head: Head) -> torch.nn.Module:
    """The validation loss: unweighted, and for the classify head plain cross-entropy whatever
    the training loss (focal included), as the engine's default has always had it."""
    return make_criterion("ce") if head.name == "classify" else head.criterion()
