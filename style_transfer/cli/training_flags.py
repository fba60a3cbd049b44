"""The flags both network trainers share: the engine's settings, the run folder, the model file.

``train`` (a Johnson network per style) and ``train-arbitrary`` (the AdaIN decoder) train
through the same engine and write the same kind of run, so they take the same flags for it;
each trainer's dataclass still owns the defaults its help quotes.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path

from shared.cli import (
    add_device_argument,
    add_precision_argument,
    add_run_dir_argument,
    add_threads_argument,
    default_of,
)

Group = argparse.ArgumentParser | argparse._ArgumentGroup
# The flags that fill a trainer's training dataclass (JohnsonTraining, ArbitraryTraining).
TRAINING = ("epochs", "batch_size", "lr", "precision", "checkpoint_every", "workers", "seed")


def channel_counts(count: int, scales: str) -> Callable[[str], tuple[int, ...]]:
    """An argparse type for ``count`` channel counts joined by commas (a network's widths)."""

    def parse(text: str) -> tuple[int, ...]:
        try:
            values = tuple(int(v) for v in text.split(","))
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"expected {count} channel counts ({scales}), got {text!r}"
            ) from None
        if len(values) != count or min(values) < 1:
            raise argparse.ArgumentTypeError(
                f"expected {count} positive channel counts ({scales}), got {text!r}"
            )
        return values

    return parse


def add_training_arguments(
    group: Group, defaults: type, *, epochs_help: str, checkpoint_unit: str
) -> None:
    """The engine's flags (``TRAINING``), then ``--device`` and ``--threads``; the help quotes
    ``defaults``'s (the trainer's training dataclass) values."""

    def default(name: str) -> str:
        return f"(default: {default_of(defaults, name)})"

    group.add_argument("--epochs", type=int, help=epochs_help)
    group.add_argument("--batch-size", type=int, help=default("batch_size"))
    group.add_argument("--lr", type=float, help=default("lr"))
    add_precision_argument(group)
    group.add_argument(
        "--checkpoint-every", type=int, metavar=checkpoint_unit, help=default("checkpoint_every")
    )
    group.add_argument("--workers", type=int, help=f"DataLoader processes {default('workers')}")
    group.add_argument("--seed", type=int, help=default("seed"))
    add_device_argument(group)
    add_threads_argument(group)


def add_output_arguments(parser: argparse.ArgumentParser, model_help: str) -> Group:
    """The run folder, ``--resume`` and ``--out`` (the model file); returns their group."""
    out = parser.add_argument_group("output")
    add_run_dir_argument(out, "run folder (default runs/style_transfer/...)")
    out.add_argument("--resume", type=Path, metavar="RUN", help="continue a killed run exactly")
    out.add_argument("--out", type=Path, help=model_help)
    return out
