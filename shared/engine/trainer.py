"""The training loop both apps stand on: ``Trainer(...).fit()``, exactly resumable after a kill.

    from shared.engine import Trainer, TrainConfig
    from shared.runs import new_run_dir, write_config
    run_dir = new_run_dir("retinopathy", "resnet50")
    write_config(run_dir, {"arch": "resnet50", "train": TrainConfig(epochs=10).to_dict()})
    trainer = Trainer(model, train_ds, val_ds, config=TrainConfig(epochs=10), run_dir=run_dir)
    rows = trainer.fit()                       # one dict per epoch, also in metrics.csv
    # after a crash or SIGKILL, rebuild model and data from config.json, then:
    Trainer.from_run(run_dir, model, train_ds, val_ds).fit(resume=True)

Plugging an app in (all optional; the defaults train a classifier with cross-entropy):

- ``step_fn(model, batch) -> loss`` or ``(loss, {"name": float})``: the training loss of one
  batch (already on the device, inside autocast). The extra values are averaged over the epoch
  and logged as ``train_<name>`` (:mod:`shared.engine.steps` has the classification ones).
- ``eval_fn(model, batch) -> (loss, outputs, targets)`` and ``metrics_fn(outputs, targets)``:
  validation, logged as ``val_<name>`` (:mod:`shared.engine.evaluate`).
- ``callbacks``: objects with any of ``on_fit_start(trainer)``, ``on_epoch_start(trainer, epoch)``,
  ``on_step_end(trainer, step, logs)`` (after each optimiser step: preview images),
  ``on_epoch_end(trainer, epoch, row)`` (may add keys to ``row`` before it is logged) and
  ``on_fit_end(trainer, rows)``. They run on every DDP rank; write files only when
  ``trainer.is_main``.

A resumed run ends with the same weights, bit for bit on CPU, as a run never stopped
(:mod:`shared.engine.resume`, :mod:`shared.engine.data_order`, :mod:`shared.engine.precision`).

Distributed (``torchrun``): the model is wrapped in DDP, each rank trains on its share of every
epoch, rank 0 alone writes metrics.csv, plots and checkpoints. Validation is split across ranks
without padding and the outputs are gathered back into dataset order on every rank, so
``metrics_fn`` sees the whole validation set and every rank takes the same early-stopping and
scheduler decisions.
"""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset

from shared.device import pick_device, to_channels_last
from shared.distributed import (
    all_reduce_sum,
    broadcast_buffers,
    is_distributed,
    is_main_process,
    rank,
    world_size,
)
from shared.engine import resume as resume_state
from shared.engine.callbacks import NonFiniteLossError
from shared.engine.config import TrainConfig, build_optimizer, build_scheduler
from shared.engine.data_order import ResumableSampler, epoch_sampler, seeded_loader, shard_sampler
from shared.engine.ema import make_ema
from shared.engine.evaluate import batch_size_of, evaluate, to_device
from shared.engine.meters import Meters
from shared.engine.precision import record_precision, resolve_training_precision
from shared.engine.steps import accuracy_metrics, classification_eval, classification_step
from shared.engine.warmup import warmed_up, warmup_steps
from shared.errors import UserError
from shared.precision import autocast, make_scaler
from shared.rng import seed_everything
from shared.runs import MetricsLog, RunPaths, progress, read_config, write_config


class Trainer:
    """Fits ``model`` on ``train_data`` (a map-style Dataset), validating on ``val_data``.

    ``run_dir`` is the run folder (:mod:`shared.runs`); its config.json is written with the
    engine's settings under "train" when absent (an app writes its own, with "train" in it,
    first). ``arch`` names the model in its checkpoints (default: its class name), so that a
    checkpoint of another model is refused by name. ``sampler_weights`` (one per training item)
    switches to weighted sampling with replacement, ``len(train_data)`` draws an epoch.
    """

    def __init__(
        self,
        model: nn.Module,
        train_data: Dataset,
        val_data: Dataset | None = None,
        *,
        config: TrainConfig,
        run_dir: str | Path,
        device: torch.device | str | None = None,
        step_fn: Callable[[nn.Module, Any], Any] | None = None,
        eval_fn: Callable[[nn.Module, Any], tuple[torch.Tensor, Any, Any]] | None = None,
        metrics_fn: Callable[[torch.Tensor, torch.Tensor], Mapping[str, float]] | None = None,
        sampler_weights: Sequence[float] | torch.Tensor | None = None,
        callbacks: Iterable[Any] = (),
        collate_fn: Callable[[list[Any]], Any] | None = None,
        verbose: bool = True,
        arch: str | None = None,
    ) -> None:
        self.config, self.run, self.verbose = config, RunPaths(run_dir), verbose
        self.arch = arch or type(model).__name__
        self.device = device if isinstance(device, torch.device) else pick_device(device)
        self.is_main, self.rank, self.world = is_main_process(), rank(), world_size()
        self.model = to_channels_last(model.to(self.device), config.channels_last)
        self.train_model = self._wrap_ddp(self.model)
        self.params = [p for p in self.model.parameters() if p.requires_grad]
        if not self.params:
            raise ValueError("the model has no trainable parameters (requires_grad is off)")
        self.optimizer = build_optimizer(self.params, config)
        self.ema = make_ema(self.model, config.ema)
        self.scheduler = build_scheduler(self.optimizer, config)
        args = (config, self.model, train_data, self.device, self.run.root)
        self.dtype = resolve_training_precision(*args)
        self.scaler = make_scaler(self.device, self.dtype)
        self.step_fn = step_fn or classification_step()
        self.eval_fn = eval_fn or classification_eval()
        self.metrics_fn = metrics_fn or (accuracy_metrics if eval_fn is None else None)
        self.callbacks = list(callbacks)
        self.train_data, self.val_data, self.collate_fn = train_data, val_data, collate_fn
        base = epoch_sampler(
            train_data, sampler_weights, num_replicas=self.world, rank=self.rank, seed=config.seed
        )
        self.train_sampler = ResumableSampler(
            base, batch_size=config.batch_size, seed=config.seed, rank=self.rank
        )
        self.train_loader = self._loader(train_data, self.train_sampler, config.drop_last)
        per_epoch = math.ceil(len(self.train_loader) / config.accum_steps)
        self.warmup_steps = warmup_steps(config.warmup_epochs, per_epoch)
        self._eval_loaders: dict[int, DataLoader] = {}
        self.monitor = config.monitor
        if val_data is None and self.monitor.startswith("val_"):
            self.monitor = "train_" + self.monitor[len("val_") :]
        self._start_progress()
        self.metrics_log = MetricsLog(self.run.metrics)
        self.run_config = self._init_run_folder()

    def _start_progress(self) -> None:
        """The counters of a run not started yet: everything here goes into the checkpoint."""
        self.epoch = 0  # epochs finished
        self.batch = 0  # batches of the current epoch already trained on
        self.step = 0  # optimiser steps taken
        self.best: float | None = None
        self.best_epoch: int | None = None
        self.bad_epochs = 0
        self.stopped_early = False
        self.history: list[dict[str, Any]] = []
        self.meters = Meters()

    @classmethod
    def from_run(
        cls, run_dir: str | Path, model: nn.Module, train_data: Dataset,
        val_data: Dataset | None = None, **kwargs: Any,
    ) -> Trainer:  # fmt: skip
        """A Trainer with the settings stored in ``run_dir/config.json`` (under "train")."""
        config = read_config(run_dir)
        if "train" not in config:
            raise UserError(f"{RunPaths(run_dir).config} has no 'train' section")
        return cls(
            model, train_data, val_data,
            config=TrainConfig.from_dict(config["train"]), run_dir=run_dir, **kwargs,
        )  # fmt: skip

    def _wrap_ddp(self, model: nn.Module) -> nn.Module:
        if not is_distributed():
            return model
        ids = [self.device.index] if self.device.type == "cuda" else None
        return nn.parallel.DistributedDataParallel(model, device_ids=ids)

    def _loader(self, data: Dataset, sampler: ResumableSampler, drop_last: bool) -> DataLoader:
        return seeded_loader(
            data, sampler, batch_size=self.config.batch_size,
            num_workers=self.config.num_workers, seed=self.config.seed, drop_last=drop_last,
            pin_memory=self.device.type == "cuda", collate_fn=self.collate_fn,
        )  # fmt: skip

    def _eval_loader(self, data: Dataset) -> DataLoader:
        if id(data) not in self._eval_loaders:
            sampler = shard_sampler(
                data, batch_size=self.config.batch_size, num_replicas=self.world,
                rank=self.rank, seed=self.config.seed,
            )  # fmt: skip
            self._eval_loaders[id(data)] = self._loader(data, sampler, drop_last=False)
        return self._eval_loaders[id(data)]

    def _init_run_folder(self) -> dict[str, Any]:
        if self.run.config.is_file():
            return record_precision(self.run.root, self.config.precision, write=self.is_main)
        config = {"train": self.config.to_dict()}
        if self.is_main:
            write_config(self.run.root, config)
        return config

    # ------------------------------------------------------------ the loop

    @property
    def finished(self) -> bool:
        return self.stopped_early or self.epoch >= self.config.epochs

    def fit(self, resume: bool = False) -> list[dict[str, Any]]:
        """Train until ``epochs`` or early stopping; the per-epoch rows (also in metrics.csv).

        ``resume=True`` continues from ``checkpoints/last.pt`` (from the start if there is none
        yet); a finished run is left as it is.
        """
        if resume:
            if resume_state.resume(self):
                return self.history
        else:
            if self.run.last.exists():
                raise UserError(
                    f"{self.run.root} already holds a checkpoint; resume it or use a new folder"
                )
            seed_everything(self.config.seed + self.rank)
        self._call("on_fit_start")
        while not self.finished:
            self._call("on_epoch_start", self.epoch)
            start = time.perf_counter()
            row = {"epoch": self.epoch + 1, **self._prefixed("train_", self.train_one_epoch())}
            if self.val_data is not None:
                row.update(self._prefixed("val_", self.evaluate()))
            row["lr"] = self.optimizer.param_groups[0]["lr"]
            row["time"] = round(time.perf_counter() - start, 3)
            self._end_epoch(row)
        self._call("on_fit_end", self.history)
        return self.history

    def train_one_epoch(self) -> dict[str, float]:
        """Train on the rest of epoch ``self.epoch``; the epoch's per-sample mean values."""
        cfg = self.config
        self.train_sampler.set_epoch(self.epoch, self.batch)
        n_batches = self.batch + len(self.train_loader)
        self.train_model.train()
        bar = progress(
            total=n_batches, initial=self.batch, desc=f"epoch {self.epoch + 1}/{cfg.epochs}",
            unit="batch", leave=False, enabled=self.verbose,
        )  # fmt: skip
        seen, start = 0, time.perf_counter()
        for i, batch in enumerate(self.train_loader, start=self.batch):
            boundary = (i + 1) % cfg.accum_steps == 0 or i + 1 == n_batches
            logs, n = self._train_batch(batch, sync=boundary, batch_index=i)
            self.batch = i + 1
            seen += n
            if boundary:
                self._optimizer_step(logs, last_of_epoch=i + 1 == n_batches)
            bar.update()
            if not bar.disable and i % 10 == 0:
                rate = seen / max(time.perf_counter() - start, 1e-9)
                # every value the step logs (content/style losses, accuracy...), not just the loss
                shown = {k: f"{v:.4g}" for k, v in logs.items()}
                bar.set_postfix(**shown, samples_s=f"{rate:.3g}", refresh=False)
        bar.close()
        return self.meters.averages()

    def _train_batch(
        self, batch: Any, *, sync: bool, batch_index: int
    ) -> tuple[dict[str, float], int]:
        """Forward and backward of one batch; its logged values and its size."""
        batch = to_device(batch, self.device, self.config.channels_last)
        # Under DDP, accumulate locally and all-reduce gradients only on the stepping batch.
        skip_sync = is_distributed() and not sync
        with self.train_model.no_sync() if skip_sync else contextlib.nullcontext():  # type: ignore[operator]
            with autocast(self.device, self.dtype):
                result = self.step_fn(self.train_model, batch)
            loss, extra = result if isinstance(result, tuple) else (result, {})
            value = self._checked_loss(loss, batch_index)
            if self.config.accum_steps > 1:
                loss = loss / self.config.accum_steps
            self.scaler.scale(loss).backward()
        logs = {"loss": value, **{k: float(v) for k, v in extra.items()}}
        n = batch_size_of(batch)
        self.meters.update(logs, n)
        return logs, n

    def _checked_loss(self, loss: torch.Tensor, batch_index: int) -> float:
        """The loss as a float; NaN/inf stops the run (on every rank at the same step)."""
        value = loss.detach().float()
        if is_distributed():
            value = all_reduce_sum(value.clone()) / self.world
        value = value.item()
        if not math.isfinite(value):
            kept = self.run.last if self.run.last.exists() else "none written yet"
            raise NonFiniteLossError(
                f"loss is {value} at epoch {self.epoch + 1}, step {self.step + 1} "
                f"(batch {batch_index + 1} of the epoch); training stopped, last good checkpoint: "
                f"{kept}. Try a lower learning rate, --clip-grad-norm, or AMP off"
            )
        return value

    def _optimizer_step(self, logs: dict[str, float], *, last_of_epoch: bool) -> None:
        if self.config.clip_grad_norm is not None:
            self.scaler.unscale_(self.optimizer)
            nn.utils.clip_grad_norm_(self.params, self.config.clip_grad_norm)
        with warmed_up(self.optimizer, self.step, self.warmup_steps):
            self.scaler.step(self.optimizer)
        self.scaler.update()
        if self.ema is not None:
            self.ema.update_parameters(self.model)
        self.optimizer.zero_grad(set_to_none=True)
        self.step += 1
        self._call("on_step_end", self.step, logs)
        every = self.config.checkpoint_every
        if every and self.step % every == 0 and not last_of_epoch:
            resume_state.save(self)  # the epoch end writes its own

    def _end_epoch(self, row: dict[str, Any]) -> None:
        """Callbacks, best/early-stop bookkeeping, scheduler, then metrics row and checkpoint."""
        self._call("on_epoch_end", self.epoch, row)
        value = self._monitored(row)
        improved = self.best is None or (
            value < self.best if self.config.mode == "min" else value > self.best
        )
        if improved:
            self.best, self.best_epoch, self.bad_epochs = value, self.epoch + 1, 0
        else:
            self.bad_epochs += 1
        if isinstance(self.scheduler, torch.optim.lr_scheduler.ReduceLROnPlateau):
            self.scheduler.step(value)
        elif self.scheduler is not None:
            self.scheduler.step()
        patience = self.config.early_stopping_patience
        self.stopped_early = patience is not None and self.bad_epochs >= patience
        self.epoch, self.batch, self.meters = self.epoch + 1, 0, Meters()
        self.history.append(row)
        if self.is_main:
            # The row goes first: killed before the checkpoint, the resumed run drops and
            # rewrites it; the other order would lose it.
            self.metrics_log.append(row)
        resume_state.save(self, best=improved)
        if self.is_main:
            self._report_epoch(row, improved)

    def _monitored(self, row: Mapping[str, Any]) -> float:
        if self.monitor not in row:
            raise UserError(
                f"the monitored metric {self.monitor!r} is not logged; "
                f"choose one of: {', '.join(k for k in row if k not in ('epoch', 'time'))}"
            )
        value = float(row[self.monitor])
        if math.isnan(value):  # never an improvement
            value = math.inf if self.config.mode == "min" else -math.inf
        return value

    def _report_epoch(self, row: Mapping[str, Any], improved: bool) -> None:
        if self.config.plots:
            from shared.plotting import curve_panels, plot_metric_panels  # matplotlib: only now

            plot_metric_panels(curve_panels(self.history), self.run.plot("curves"))
        if self.verbose:
            values = "  ".join(
                f"{k} {v:.4g}" for k, v in row.items() if k not in ("epoch", "time")
                and isinstance(v, (int, float))
            )  # fmt: skip
            mark = "  *best*" if improved else ""
            print(f"epoch {row['epoch']}/{self.config.epochs}  {values}  {row['time']:.1f}s{mark}")
            if self.stopped_early:
                print(
                    f"early stopping: {self.monitor} has not improved for {self.bad_epochs} "
                    f"epochs (best {self.best:.4g} at epoch {self.best_epoch})"
                )

    def evaluate(self, data: Dataset | None = None) -> dict[str, float]:
        """``{"loss": ..., **metrics_fn(...)}`` on ``data`` (default: the validation set)."""
        data = self.val_data if data is None else data
        if data is None:
            raise ValueError("no data to evaluate on")
        model = self.kept_model
        broadcast_buffers(model)  # every rank evaluates the model rank 0 checkpoints
        return evaluate(
            model, self._eval_loader(data), eval_fn=self.eval_fn,
            metrics_fn=self.metrics_fn, device=self.device, dtype=self.dtype,
            channels_last=self.config.channels_last,
        )  # fmt: skip

    @property
    def kept_model(self) -> nn.Module:
        """The model validated and kept in checkpoints: the weights' average with an EMA."""
        return self.model if self.ema is None else self.ema.module

    @staticmethod
    def _prefixed(prefix: str, values: Mapping[str, float]) -> dict[str, float]:
        return {prefix + k: v for k, v in values.items()}

    def _call(self, hook: str, *args: Any) -> None:
        for callback in self.callbacks:
            fn = getattr(callback, hook, None)
            if fn is not None:
                fn(self, *args)

    def say(self, message: str) -> None:
        if self.is_main:
            print(message, flush=True)
