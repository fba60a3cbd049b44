"""The checks of the training options that are more than a range: each value as the flag takes
it (text or numbers) in, the value the config keeps out, or a one-line :class:`UserError`."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from retinopathy.tasks import Task
from retinopathy.thresholds import check_cut_points, parse_cut_points
from shared import backbones
from shared.errors import UserError

SAMPLING_NAMES = {"none": 0.0, "natural": 0.0, "balanced": 1.0}


def cut_points_option(value: str | Sequence[float] | None, task: Task) -> list[float] | None:
    """``--thresholds``: K-1 increasing cut points for ``task`` (text or numbers), or None.

    The referable task refers by its screening operating points, not by cut points.
    """
    if value is None:
        return None
    if task.is_binary:
        raise UserError(
            f"--thresholds cuts a grade scale; the {task.name} task refers at its screening "
            "operating points instead (--spec-target, --sens-target)"
        )
    if isinstance(value, str):
        return list(parse_cut_points(value, task.num_classes))
    return list(check_cut_points([float(v) for v in value], task.num_classes))


def check_bootstrap(value: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise UserError(f"--bootstrap must be a whole number of resamples >= 1, not {value!r}")
    return value


def pretrained_choice(value: str | bool) -> str:
    """``auto``, ``yes`` or ``no`` (or a bool for yes and no), or a weights file's path (made
    absolute)."""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if value in backbones.PRETRAINED_CHOICES:
        return value
    if not str(value):
        raise UserError(f"--pretrained must be {', '.join(backbones.PRETRAINED_CHOICES)} or a file")
    return str(Path(str(value)).expanduser().resolve())


def sampling_exponent(value: float | str) -> float:
    try:
        exponent = SAMPLING_NAMES[value] if value in SAMPLING_NAMES else float(value)
    except (TypeError, ValueError):
        raise UserError(
            f"--sampling must be none, balanced or a number in [0, 1], not {value!r}"
        ) from None
    if not 0 <= exponent <= 1:
        raise UserError(f"--sampling exponent must lie in [0, 1], not {exponent}")
    return exponent


def class_weights_option(value: str | Sequence[float], num_classes: int) -> str | list[float]:
    if value in ("none", "inverse"):
        return value
    try:
        weights = [float(v) for v in (value.split(",") if isinstance(value, str) else value)]
    except (TypeError, ValueError):
        raise UserError(
            f"--class-weights must be none, inverse or numbers, not {value!r}"
        ) from None
    if len(weights) != num_classes or min(weights) <= 0:
        raise UserError(f"--class-weights needs {num_classes} positive numbers, got {value!r}")
    return weights
