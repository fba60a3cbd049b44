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
  and logged as ``train_<name>``. :func:`classification_step` covers CE, class-weighted CE and
  Inception's ``(logits, aux)`` output.
- ``eval_fn(model, batch) -> (loss, outputs, targets)``: validation; ``outputs``/``targets`` of
  every batch are concatenated, in dataset order, and handed to
- ``metrics_fn(outputs, targets) -> {"name": float}``: logged as ``val_<name>`` (QWK, F1, ...).
- ``callbacks``: objects with any of ``on_fit_start(trainer)``, ``on_epoch_start(trainer, epoch)``,
  ``on_step_end(trainer, step, logs)`` (after each optimiser step: preview images),
  ``on_epoch_end(trainer, epoch, row)`` (may add keys to ``row`` before it is logged) and
  ``on_fit_end(trainer, rows)``. They run on every DDP rank; write files only when
  ``trainer.is_main``.

Exact resume. ``checkpoints/last.pt`` is written at every epoch end and, with
``checkpoint_every=N``, every N optimiser steps; it holds the model, optimiser, scheduler, grad
scaler, counters (epoch, batch within the epoch, step), the best value, the early-stopping count,
the epoch's running averages, the configs and every rank's RNG states. A run resumed from it ends
with the same weights, bit for bit on CPU, as a run never stopped, because data order and
augmentation do not depend on when or where a batch is loaded:

- the epoch's order is a function of ``(seed, epoch)`` alone (``DistributedSampler`` or
  :class:`~shared.distributed.WeightedDistributedSampler`, ``set_epoch`` each epoch);
- each batch is loaded with torch's, Python's and numpy's global generators seeded from
  ``(seed, epoch, rank, batch)``, in whichever worker process loads it; so a dataset must draw its
  random augmentation from those global generators (torchvision v2 transforms do), not from a
  generator of its own;
- a resumed epoch starts its sampler at the first batch not yet trained on, without loading the
  batches before it.

Loading in the main process (``num_workers=0``) puts torch's CPU generator back afterwards, so
the training step's own randomness (dropout) does not depend on ``num_workers``. Python's and
numpy's are left as loading leaves them (putting numpy's back costs ~0.5 ms a batch): a step
function should draw its randomness from torch. Either way a resumed run repeats the original.

Distributed (``torchrun``): the model is wrapped in DDP, each rank trains on its share of every
epoch, rank 0 alone writes metrics.csv, plots and checkpoints. Validation is split across ranks
without padding and the outputs are gathered back into dataset order on every rank, so
``metrics_fn`` sees the whole validation set and every rank takes the same early-stopping and
scheduler decisions.
"""

from __future__ import annotations

import contextlib
import math
import random
import shutil
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset, DistributedSampler, Sampler, get_worker_info

from shared.atomic import atomic_path
from shared.checkpoint import (
    capture_rng_state,
    load_checkpoint,
    restore_rng_state,
    save_checkpoint,
)
from shared.cli import UserError
from shared.device import autocast, make_scaler, pick_device, to_channels_last
from shared.distributed import (
    ShardSampler,
    WeightedDistributedSampler,
    all_gather_object,
    all_reduce_sum,
    broadcast_buffers,
    is_distributed,
    is_main_process,
    rank,
    world_size,
)
from shared.runs import MetricsLog, RunPaths, progress, read_config, write_config

OPTIMIZERS = ("sgd", "adam", "adamw")
SCHEDULERS = ("none", "step", "cosine", "plateau")
# Settings that do not change what is computed, so a resumed run may use other values.
MAY_CHANGE_ON_RESUME = frozenset({"num_workers", "checkpoint_every", "plots"})


@dataclass
class TrainConfig:
    """The engine's settings: plain data, stored in config.json (under "train") and checkpoints."""

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
    clip_grad_norm: float | None = None
    amp: bool = False  # bf16 autocast on CPU, fp16 + GradScaler on CUDA
    channels_last: bool = False
    monitor: str = "val_loss"  # without validation data, val_<x> means train_<x>
    mode: str = "min"  # min | max: which direction of `monitor` is better
    early_stopping_patience: int | None = None  # epochs without improvement before stopping
    checkpoint_every: int = 0  # optimiser steps between mid-epoch checkpoints; 0 = epoch ends
    seed: int = 0
    plots: bool = True  # plots/curves.png at each epoch end

    def __post_init__(self) -> None:
        choices = {"optimizer": OPTIMIZERS, "scheduler": SCHEDULERS, "mode": ("min", "max")}
        for name, allowed in choices.items():
            if getattr(self, name) not in allowed:
                raise UserError(
                    f"{name} must be one of {', '.join(allowed)}, not {getattr(self, name)!r}"
                )
        minimum = {"epochs": 1, "batch_size": 1, "accum_steps": 1, "num_workers": 0,
                   "checkpoint_every": 0, "seed": 0}  # fmt: skip
        for name, low in minimum.items():
            if getattr(self, name) < low:
                raise UserError(f"{name} must be >= {low}, not {getattr(self, name)}")
        if not self.lr > 0:
            raise UserError(f"lr must be positive, not {self.lr}")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TrainConfig:
        """Rebuild from :meth:`to_dict`; an unknown key is an error (a typo, or another version)."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise UserError(f"unknown training setting(s): {', '.join(unknown)}")
        return cls(**data)


class NonFiniteLossError(UserError):
    """The loss became NaN or infinite; the run stopped and the last checkpoint was kept."""


class Callback:
    """Base class with every hook as a no-op; subclass and override what you need."""

    def on_fit_start(self, trainer: Trainer) -> None: ...
    def on_epoch_start(self, trainer: Trainer, epoch: int) -> None: ...
    def on_step_end(self, trainer: Trainer, step: int, logs: dict[str, float]) -> None: ...
    def on_epoch_end(self, trainer: Trainer, epoch: int, row: dict[str, Any]) -> None: ...
    def on_fit_end(self, trainer: Trainer, rows: list[dict[str, Any]]) -> None: ...


# ---------------------------------------------------------------- default classification steps


def _logits(output: Any) -> tuple[torch.Tensor, torch.Tensor | None]:
    """``(logits, aux)`` from a model output: Inception v3 returns a namedtuple while training."""
    if isinstance(output, (tuple, list)):
        return output[0], (output[1] if len(output) > 1 else None)
    return output, None


class _CriterionOn:
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
    crit_on = _CriterionOn(criterion or nn.CrossEntropyLoss())

    def step(model: nn.Module, batch: Any) -> tuple[torch.Tensor, dict[str, Any]]:
        images, targets = batch[0], batch[1]
        logits, aux = _logits(model(images))
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
    crit_on = _CriterionOn(criterion or nn.CrossEntropyLoss())

    def evaluate_batch(model: nn.Module, batch: Any):
        images, targets = batch[0], batch[1]
        logits, _ = _logits(model(images))
        return crit_on(logits.device)(logits, targets), logits, targets

    return evaluate_batch


def accuracy_metrics(outputs: torch.Tensor, targets: torch.Tensor) -> dict[str, float]:
    """The default ``metrics_fn``: top-1 accuracy of logits against integer labels."""
    return {"acc": (outputs.argmax(1) == targets).float().mean().item()}


# ---------------------------------------------------------------- data: order and seeds


def _mix_seed(*values: int) -> int:
    """One well-spread 64-bit seed from several small ints (seed, epoch, rank, stream)."""
    return int(np.random.SeedSequence(list(values)).generate_state(1, np.uint64)[0])


class ResumableSampler(Sampler[tuple[int, int]]):
    """Yields ``(index, batch_seed)``: ``base``'s order for the epoch, one seed per batch.

    ``set_epoch(epoch, start_batch)`` picks the epoch (forwarded to ``base``) and skips the
    batches already trained on. Seeds depend on ``(seed, epoch, rank, stream, batch)`` only.
    """

    def __init__(
        self, base: Sampler[int], *, batch_size: int, seed: int, rank: int = 0, stream: int = 0
    ) -> None:
        self.base, self.batch_size, self.seed = base, batch_size, seed
        self.rank, self.stream = rank, stream
        self.epoch, self.start_batch = 0, 0

    def set_epoch(self, epoch: int, start_batch: int = 0) -> None:
        self.epoch, self.start_batch = epoch, start_batch
        if hasattr(self.base, "set_epoch"):
            self.base.set_epoch(epoch)

    def __iter__(self):
        order = list(self.base)
        n_batches = -(-len(order) // self.batch_size)
        g = torch.Generator().manual_seed(_mix_seed(self.seed, self.epoch, self.rank, self.stream))
        seeds = torch.randint(0, 2**32, (n_batches,), generator=g).tolist()
        for pos in range(self.start_batch * self.batch_size, len(order)):
            yield order[pos], seeds[pos // self.batch_size]

    def __len__(self) -> int:
        return max(len(self.base) - self.start_batch * self.batch_size, 0)  # type: ignore[arg-type]


class SeededDataset(Dataset):
    """Loads the ``(index, seed)`` keys of :class:`ResumableSampler` with the generators seeded.

    Torch's, Python's and numpy's global generators are seeded once per batch (one DataLoader
    fetch), so the batch's augmentation is the same whichever process loads it, and when.
    """

    def __init__(self, dataset: Dataset) -> None:
        self.dataset = dataset

    def __len__(self) -> int:
        return len(self.dataset)  # type: ignore[arg-type]

    def __getitems__(self, keys: Sequence[tuple[int, int]]) -> list[Any]:
        saved = torch.get_rng_state() if get_worker_info() is None else None
        seed = keys[0][1]
        torch.random.default_generator.manual_seed(seed)  # CPU only: leaves CUDA's stream alone
        random.seed(seed)
        np.random.seed(seed)
        try:
            return [self.dataset[index] for index, _ in keys]
        finally:
            if saved is not None:
                torch.set_rng_state(saved)

    def __getitem__(self, key: tuple[int, int]) -> Any:
        return self.__getitems__([key])[0]


# ---------------------------------------------------------------- small helpers


def to_device(batch: Any, device: torch.device, channels_last: bool = False) -> Any:
    """Move every tensor in a (nested) batch to ``device``; 4-D float tensors to NHWC if asked."""
    if isinstance(batch, torch.Tensor):
        if channels_last and batch.ndim == 4 and batch.is_floating_point():
            return batch.to(device, non_blocking=True, memory_format=torch.channels_last)
        return batch.to(device, non_blocking=True)
    if isinstance(batch, Mapping):
        return {k: to_device(v, device, channels_last) for k, v in batch.items()}
    if isinstance(batch, tuple) and hasattr(batch, "_fields"):  # namedtuple
        return type(batch)(*(to_device(v, device, channels_last) for v in batch))
    if isinstance(batch, (list, tuple)):
        return type(batch)(to_device(v, device, channels_last) for v in batch)
    return batch


def batch_size_of(batch: Any) -> int:
    """Length of the first tensor found in a (nested) batch."""
    if isinstance(batch, torch.Tensor):
        return int(batch.shape[0]) if batch.ndim else 1
    values = batch.values() if isinstance(batch, Mapping) else batch
    if isinstance(values, Iterable) and not isinstance(values, (str, bytes)):
        for value in values:
            n = batch_size_of(value)
            if n:
                return n
    return 0


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


def _copy_atomic(src: Path, dst: Path) -> None:
    """best.pt is a copy of last.pt: cheaper than serialising the state twice."""
    with atomic_path(dst) as tmp:
        shutil.copyfile(src, tmp)


def _gather_in_order(local: torch.Tensor | None) -> torch.Tensor | None:
    """Undo :class:`ShardSampler`'s striding: item ``i`` came from rank ``i % W``."""
    parts = all_gather_object(local)
    if len(parts) == 1:
        return parts[0]
    present = [p for p in parts if p is not None]
    if not present:
        return None
    total = sum(len(p) for p in present)
    out = present[0].new_empty((total, *present[0].shape[1:]))
    for r, part in enumerate(parts):
        if part is not None:
            out[r :: len(parts)] = part
    return out


class _Meters:
    """Sample-weighted running sums of the epoch's training values (saved mid-epoch)."""

    def __init__(self, state: Mapping[str, Any] | None = None) -> None:
        self.n = float(state["n"]) if state else 0.0
        self.sums: dict[str, float] = dict(state["sums"]) if state else {}

    def update(self, values: Mapping[str, float], n: int) -> None:
        for key, value in values.items():
            self.sums[key] = self.sums.get(key, 0.0) + value * n
        self.n += n

    def averages(self) -> dict[str, float]:
        """Per-sample means over the epoch, summed across DDP ranks."""
        keys = list(self.sums)  # the step function's order, the same on every rank
        totals = all_reduce_sum(
            torch.tensor([self.n, *(self.sums[k] for k in keys)], dtype=torch.float64)
        ).tolist()
        return {k: s / max(totals[0], 1.0) for k, s in zip(keys, totals[1:], strict=True)}

    def state_dict(self) -> dict[str, Any]:
        return {"n": self.n, "sums": dict(self.sums)}


def curve_panels(rows: Sequence[Mapping[str, Any]]) -> dict[str, dict[str, list[float]]]:
    """``{"loss": {"train_loss": [...], "val_loss": [...]}, "acc": {...}, "lr": {...}}``."""
    panels: dict[str, dict[str, list[float]]] = {}
    keys = list(dict.fromkeys(k for row in rows for k in row))
    for key in keys:
        for prefix in ("train_", "val_"):
            if key.startswith(prefix):
                panels.setdefault(key[len(prefix) :], {})[key] = []
    if "lr" in keys:
        panels["lr"] = {"lr": []}
    for series in panels.values():
        for key, values in series.items():
            values.extend(float("nan") if r.get(key) is None else float(r[key]) for r in rows)
    loss_first = sorted(panels, key=lambda name: name != "loss")
    return {name: panels[name] for name in loss_first}


def evaluate(
    model: nn.Module,
    loader: Iterable,
    *,
    eval_fn: Callable[[nn.Module, Any], tuple[torch.Tensor, Any, Any]],
    metrics_fn: Callable[[torch.Tensor, torch.Tensor], Mapping[str, float]] | None = None,
    device: torch.device,
    amp: bool = False,
    channels_last: bool = False,
) -> dict[str, float]:
    """Mean loss over ``loader`` plus ``metrics_fn`` of all outputs; summed/gathered under DDP."""
    was_training = model.training
    model.eval()
    loss_sum, count = 0.0, 0
    outputs: list[torch.Tensor] = []
    targets: list[torch.Tensor] = []
    with torch.no_grad():
        for batch in loader:
            batch = to_device(batch, device, channels_last)
            with autocast(device, amp):
                loss, out, tgt = eval_fn(model, batch)
            n = batch_size_of(batch)
            loss_sum += float(loss) * n
            count += n
            if out is not None:
                outputs.append(out.detach().float().cpu())
                targets.append(tgt.detach().cpu())
    model.train(was_training)
    totals = all_reduce_sum(torch.tensor([loss_sum, count], dtype=torch.float64)).tolist()
    result = {"loss": totals[0] / max(totals[1], 1.0)}
    if metrics_fn is not None:
        all_out = _gather_in_order(torch.cat(outputs) if outputs else None)
        all_tgt = _gather_in_order(torch.cat(targets) if targets else None)
        if all_out is not None:
            result.update({k: float(v) for k, v in metrics_fn(all_out, all_tgt).items()})
    return result


def seed_everything(seed: int) -> None:
    """Seed Python's, numpy's and torch's global generators (all devices)."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


# ---------------------------------------------------------------- the trainer


class Trainer:
    """Fits ``model`` on ``train_data`` (a map-style Dataset), validating on ``val_data``.

    ``run_dir`` is the run folder (:mod:`shared.runs`); its config.json is written with the
    engine's settings under "train" when absent, and embedded in every checkpoint, so a
    checkpoint alone is enough to rebuild the model. ``sampler_weights`` (one per training item)
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
    ) -> None:
        self.config, self.run, self.verbose = config, RunPaths(run_dir), verbose
        self.device = device if isinstance(device, torch.device) else pick_device(device)
        self.is_main, self.rank, self.world = is_main_process(), rank(), world_size()
        self.model = to_channels_last(model.to(self.device), config.channels_last)
        self.train_model = self._wrap_ddp(self.model)
        self.params = [p for p in self.model.parameters() if p.requires_grad]
        if not self.params:
            raise ValueError("the model has no trainable parameters (requires_grad is off)")
        self.optimizer = build_optimizer(self.params, config)
        self.scheduler = build_scheduler(self.optimizer, config)
        self.scaler = make_scaler(self.device, config.amp)
        self.step_fn = step_fn or classification_step()
        self.eval_fn = eval_fn or classification_eval()
        self.metrics_fn = metrics_fn or (accuracy_metrics if eval_fn is None else None)
        self.callbacks = list(callbacks)
        self.train_data, self.val_data, self.collate_fn = train_data, val_data, collate_fn
        self.train_sampler = ResumableSampler(
            self._epoch_sampler(train_data, sampler_weights),
            batch_size=config.batch_size, seed=config.seed, rank=self.rank,
        )  # fmt: skip
        self.train_loader = self._loader(train_data, self.train_sampler, config.drop_last)
        self._eval_loaders: dict[int, DataLoader] = {}
        self.monitor = config.monitor
        if val_data is None and self.monitor.startswith("val_"):
            self.monitor = "train_" + self.monitor[len("val_") :]
        # Progress: everything below goes into the checkpoint.
        self.epoch = 0  # epochs finished
        self.batch = 0  # batches of the current epoch already trained on
        self.step = 0  # optimiser steps taken
        self.best: float | None = None
        self.best_epoch: int | None = None
        self.bad_epochs = 0
        self.stopped_early = False
        self.history: list[dict[str, Any]] = []
        self._meters = _Meters()
        self.metrics_log = MetricsLog(self.run.metrics)
        self.run_config = self._init_run_folder()

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

    # ------------------------------------------------------------ setup

    def _wrap_ddp(self, model: nn.Module) -> nn.Module:
        if not is_distributed():
            return model
        ids = [self.device.index] if self.device.type == "cuda" else None
        return nn.parallel.DistributedDataParallel(model, device_ids=ids)

    def _epoch_sampler(self, data: Dataset, weights: Any) -> Sampler[int]:
        if weights is not None:
            if len(weights) != len(data):  # type: ignore[arg-type]
                raise ValueError("sampler_weights needs one weight per training item")
            return WeightedDistributedSampler(
                weights, len(weights), num_replicas=self.world, rank=self.rank,
                seed=self.config.seed,
            )  # fmt: skip
        return DistributedSampler(
            data, num_replicas=self.world, rank=self.rank, shuffle=True, seed=self.config.seed
        )

    def _loader(self, data: Dataset, sampler: ResumableSampler, drop_last: bool) -> DataLoader:
        workers = self.config.num_workers
        return DataLoader(
            SeededDataset(data),
            batch_size=self.config.batch_size,
            sampler=sampler,
            num_workers=workers,
            collate_fn=self.collate_fn,
            pin_memory=self.device.type == "cuda",
            drop_last=drop_last,
            persistent_workers=workers > 0,
            # Its own generator: creating an iterator must not draw from the global one.
            generator=torch.Generator().manual_seed(self.config.seed),
        )

    def _eval_loader(self, data: Dataset) -> DataLoader:
        if id(data) not in self._eval_loaders:
            sampler = ResumableSampler(
                ShardSampler(len(data), num_replicas=self.world, rank=self.rank),  # type: ignore[arg-type]
                batch_size=self.config.batch_size, seed=self.config.seed, rank=self.rank, stream=1,
            )  # fmt: skip
            self._eval_loaders[id(data)] = self._loader(data, sampler, drop_last=False)
        return self._eval_loaders[id(data)]

    def _init_run_folder(self) -> dict[str, Any]:
        if self.run.config.is_file():
            return read_config(self.run.root)
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
            if self._resume():
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
        return self._meters.averages()

    def _train_batch(
        self, batch: Any, *, sync: bool, batch_index: int
    ) -> tuple[dict[str, float], int]:
        """Forward and backward of one batch; its logged values and its size."""
        batch = to_device(batch, self.device, self.config.channels_last)
        # Under DDP, accumulate locally and all-reduce gradients only on the stepping batch.
        skip_sync = is_distributed() and not sync
        with self.train_model.no_sync() if skip_sync else contextlib.nullcontext():  # type: ignore[operator]
            with autocast(self.device, self.config.amp):
                result = self.step_fn(self.train_model, batch)
            loss, extra = result if isinstance(result, tuple) else (result, {})
            value = self._checked_loss(loss, batch_index)
            if self.config.accum_steps > 1:
                loss = loss / self.config.accum_steps
            self.scaler.scale(loss).backward()
        logs = {"loss": value, **{k: float(v) for k, v in extra.items()}}
        n = batch_size_of(batch)
        self._meters.update(logs, n)
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
        self.scaler.step(self.optimizer)
        self.scaler.update()
        self.optimizer.zero_grad(set_to_none=True)
        self.step += 1
        self._call("on_step_end", self.step, logs)
        every = self.config.checkpoint_every
        if every and self.step % every == 0 and not last_of_epoch:
            self.save_checkpoint()  # the epoch end writes its own

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
        self.epoch, self.batch, self._meters = self.epoch + 1, 0, _Meters()
        self.history.append(row)
        if self.is_main:
            # The row goes first: killed before the checkpoint, the resumed run drops and
            # rewrites it; the other order would lose it.
            self.metrics_log.append(row)
        self.save_checkpoint(best=improved)
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
            from shared.plotting import plot_metric_panels  # matplotlib only when plotting

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
        broadcast_buffers(self.model)  # every rank evaluates the model rank 0 checkpoints
        return evaluate(
            self.model, self._eval_loader(data), eval_fn=self.eval_fn,
            metrics_fn=self.metrics_fn, device=self.device, amp=self.config.amp,
            channels_last=self.config.channels_last,
        )  # fmt: skip

    @staticmethod
    def _prefixed(prefix: str, values: Mapping[str, float]) -> dict[str, float]:
        return {prefix + k: v for k, v in values.items()}

    def _call(self, hook: str, *args: Any) -> None:
        for callback in self.callbacks:
            fn = getattr(callback, hook, None)
            if fn is not None:
                fn(self, *args)

    # ------------------------------------------------------------ checkpoints

    def state_dict(self) -> dict[str, Any]:
        """Everything a resumed run needs, as tensors and plain containers. Collective under DDP."""
        return {
            "format": 1,
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict() if self.scheduler is not None else None,
            "scaler": self.scaler.state_dict(),
            "epoch": self.epoch,
            "batch": self.batch,
            "step": self.step,
            "best": self.best,
            "best_epoch": self.best_epoch,
            "bad_epochs": self.bad_epochs,
            "stopped_early": self.stopped_early,
            "meters": self._meters.state_dict(),
            "history": list(self.history),
            "train_config": self.config.to_dict(),
            "config": self.run_config,
            "rng": all_gather_object(capture_rng_state()),  # one entry per rank
        }

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        if self.scheduler is not None and state["scheduler"] is not None:
            self.scheduler.load_state_dict(state["scheduler"])
        if state["scaler"]:
            self.scaler.load_state_dict(state["scaler"])
        for key in ("epoch", "batch", "step", "best", "best_epoch", "bad_epochs", "stopped_early"):
            setattr(self, key, state[key])
        self._meters = _Meters(state["meters"])
        self.history = [dict(row) for row in state["history"]]
        rng = state["rng"]
        restore_rng_state(rng[self.rank % len(rng)])

    def save_checkpoint(self, best: bool = False) -> None:
        """last.pt (and best.pt as its copy); every rank must call it, rank 0 writes."""
        state = self.state_dict()
        if self.is_main:
            save_checkpoint(self.run.last, state)
            if best:
                _copy_atomic(self.run.last, self.run.best)

    def _resume(self) -> bool:
        """Load last.pt; True when the run had already finished (nothing left to do)."""
        if not self.run.last.is_file():
            self._say(f"{self.run.root}: no checkpoint yet, starting from the beginning")
            if self.is_main:
                self.metrics_log.truncate(0)
            seed_everything(self.config.seed + self.rank)
            return False
        state = load_checkpoint(self.run.last)
        self._check_same_settings(state["train_config"])
        self.load_state_dict(state)
        if self.is_main:
            self.metrics_log.truncate(self.epoch)
        if self.finished:
            how = "stopped early" if self.stopped_early else "all epochs done"
            self._say(f"{self.run.root} has already finished ({how}, {self.epoch} epochs)")
            return True
        self._say(
            f"resuming {self.run.root} at epoch {self.epoch + 1}, batch {self.batch} "
            f"(step {self.step})"
        )
        return False

    def _check_same_settings(self, saved: Mapping[str, Any]) -> None:
        current = self.config.to_dict()
        differ = [
            k for k in current if k not in MAY_CHANGE_ON_RESUME and saved.get(k) != current[k]
        ]
        if differ:
            changes = ", ".join(f"{k} {saved.get(k)!r} -> {current[k]!r}" for k in differ)
            raise UserError(
                f"cannot resume {self.run.root} exactly with other settings ({changes}); "
                "resume with the run's own config"
            )

    def _say(self, message: str) -> None:
        if self.is_main:
            print(message, flush=True)
