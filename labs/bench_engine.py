"""The Trainer's cost per step over a bare hand-written loop: ``make bench ARGS=engine``.

    python -m labs.bench_engine [--steps 200] [--repeats 5] [--threads 1]

Same model, same in-memory data, same SGD settings, CPU. The bare loop is the textbook one: a
shuffling DataLoader, forward, loss, backward, step, and ``loss.item()`` for the running mean;
the Trainer is given the same loss as its ``step_fn``. On top it seeds each batch's loading, checks
the loss for NaN, keeps running means, calls hooks and drives a progress bar (silent off a
terminal). Both loops read the process's CPU clock after every step and the per-step time is the
median interval: with one thread (the default) that is this process's own work, whatever else
the machine is running. The Trainer's epoch end (checkpoint, metrics row) is a per-epoch cost,
reported on its own.

Two models: a small CNN (a real if tiny workload) and a single linear layer, where almost nothing
but the loop itself is left, so its difference is the loop's fixed cost per step.
"""

from __future__ import annotations

import argparse
import itertools
import statistics
import sys
import tempfile
import time

import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from shared.engine import Callback, TrainConfig, Trainer

BATCH = 32
SIZE = 16


def small_cnn() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(
        nn.Conv2d(3, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(16, 32, 3, padding=1), nn.BatchNorm2d(32), nn.ReLU(),
        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(32, 10),
    )  # fmt: skip


def linear() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Flatten(), nn.Linear(3 * SIZE * SIZE, 10))


def bare_loop(model: nn.Module, data: TensorDataset) -> list[float]:
    """One epoch of the loop everyone writes first; the clock after each step."""
    loader = DataLoader(data, batch_size=BATCH, shuffle=True)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    criterion = nn.CrossEntropyLoss()
    model.train()
    total, seen = 0.0, 0
    stamps = [time.process_time()]
    for images, labels in loader:
        loss = criterion(model(images), labels)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        total += loss.item() * len(labels)
        seen += len(labels)
        stamps.append(time.process_time())
    return stamps


class _Clock(Callback):
    def __init__(self) -> None:
        self.stamps: list[float] = []

    def on_epoch_start(self, trainer, epoch) -> None:
        self.stamps.append(time.process_time())

    def on_step_end(self, trainer, step, logs) -> None:
        self.stamps.append(time.process_time())


def with_trainer(model: nn.Module, data: TensorDataset) -> tuple[list[float], float]:
    """One epoch through the Trainer; the clock after each step, and the fit's end."""
    criterion = nn.CrossEntropyLoss()
    config = TrainConfig(
        epochs=1, batch_size=BATCH, optimizer="sgd", lr=0.05, momentum=0.9, plots=False
    )
    clock = _Clock()
    with tempfile.TemporaryDirectory() as run_dir:
        trainer = Trainer(
            model, data, config=config, run_dir=run_dir, device="cpu", verbose=False,
            step_fn=lambda m, batch: criterion(m(batch[0]), batch[1]), callbacks=[clock],
        )  # fmt: skip
        trainer.fit()
        return clock.stamps, time.process_time()


def _intervals(stamps: list[float]) -> list[float]:
    return [b - a for a, b in itertools.pairwise(stamps)]


def compare(build, data: TensorDataset, repeats: int) -> dict[str, float]:
    """Median step time (ms) of each loop, and the Trainer's epoch-end cost (ms)."""
    bare_loop(build(), data)  # warm-up: oneDNN kernels, allocator
    bare, ours, epoch_end = [], [], []
    for _ in range(repeats):  # alternate, so drifting load hits both sides alike
        bare += _intervals(bare_loop(build(), data))
        stamps, end = with_trainer(build(), data)
        ours += _intervals(stamps)
        epoch_end.append(end - stamps[-1])
    return {
        "bare": 1e3 * statistics.median(bare),
        "trainer": 1e3 * statistics.median(ours),
        "epoch_end": 1e3 * min(epoch_end),
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=200, help="steps in an epoch")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=1, help="torch threads (default 1)")
    args = parser.parse_args([] if argv is None else argv)  # `make bench` passes nothing
    torch.set_num_threads(args.threads)
    g = torch.Generator().manual_seed(0)
    n = args.steps * BATCH
    data = TensorDataset(
        torch.randn(n, 3, SIZE, SIZE, generator=g), torch.randint(0, 10, (n,), generator=g)
    )
    print(
        f"batch {BATCH} of {SIZE}x{SIZE}, {args.steps} steps an epoch, CPU, {args.threads} thread"
    )
    for name, build in (("small CNN", small_cnn), ("one linear layer", linear)):
        r = compare(build, data, args.repeats)
        extra = r["trainer"] - r["bare"]
        print(
            f"{name:17s} bare {r['bare']:7.3f} ms/step   Trainer {r['trainer']:7.3f} ms/step   "
            f"overhead {1e3 * extra:+5.0f} us = {100 * extra / r['bare']:+5.1f} %   "
            f"epoch end {r['epoch_end']:5.1f} ms"
        )


if __name__ == "__main__":
    main(sys.argv[1:])
