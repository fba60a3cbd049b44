"""Screening operating points: two thresholds on the referable score, chosen on validation.

A screening programme does not grade, it decides whom to refer. Gulshan et al. ("Development
and validation of a deep learning algorithm for detection of diabetic retinopathy in retinal
fundus photographs", JAMA 316(22), 2016) fixed two thresholds on their development set and
reported both on EyePACS-1: a high-specificity point (sensitivity 90.3% at specificity 98.1%)
and a high-sensitivity point (97.5% at 93.4%). This module does the same for any head and task:

- the referable score of a photo is P(grade >= 2), the sum of its class probabilities over
  the task's referable classes (:attr:`retinopathy.tasks.Task.referable_classes`);
- on validation, from scikit-learn's ROC curve (every distinct score a threshold), the
  high-specificity point is the threshold with the best sensitivity among those whose
  specificity reaches ``spec_target`` (ties: the higher specificity), and the high-sensitivity
  point the best specificity among those whose sensitivity reaches ``sens_target`` (ties: the
  higher sensitivity); a photo is referred when its score is at or above the threshold;
- the same thresholds, unchanged, give sensitivity and specificity on test.

A target in (0, 1] can always be met at an end of the curve: specificity 1 by referring nobody,
sensitivity 1 by referring everybody. When that is the only way (no threshold meets the
specificity target and finds a single referable eye, or none meets the sensitivity target and
clears a single healthy one), the point is kept, marked ``degenerate`` and a warning says so.
A validation split without referable eyes, or without healthy ones, has no ROC curve: no
points, and a warning.

    points = choose_operating_points(val_referable, val_score)      # targets 0.98 and 0.975
    table = evaluate_operating_points(points, test_referable, test_score)
"""

from __future__ import annotations

import warnings
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from sklearn import metrics as skm

from retinopathy.metrics import binary_screening
from retinopathy.tasks import Task
from shared.errors import UserError

SPEC_TARGET = 0.98  # Gulshan et al.'s high-specificity point
SENS_TARGET = 0.975  # and their high-sensitivity point
HIGH_SPECIFICITY, HIGH_SENSITIVITY = "high_specificity", "high_sensitivity"
_TOLERANCE = 1e-9  # a rate computed as 1 - 49/2450 must still count as 0.98


@dataclass(frozen=True)
class OperatingPoint:
    """A threshold on the referable score and the rates it gave on the split it was chosen on."""

    name: str
    target: float
    threshold: float  # refer when score >= threshold
    sensitivity: float
    specificity: float
    degenerate: bool  # the target was met only by referring nobody or everybody


def referable_score(probs: np.ndarray, task: Task) -> np.ndarray:
    """P(grade >= 2) of each photo: its probabilities summed over the referable classes."""
    probs = np.asarray(probs, dtype=float)
    referable = np.isin(np.arange(probs.shape[1]), task.referable_classes)
    direct = probs[:, referable].sum(axis=1)
    # float32 probabilities round a near-certain eye's 1 - 1e-9 to 1, and the ROC curve then
    # ties eyes it should rank: above one half, one minus the (still distinct) rest is exact
    return np.where(direct < 0.5, direct, 1.0 - probs[:, ~referable].sum(axis=1))


def is_referable(labels: np.ndarray, task: Task) -> np.ndarray:
    """1 where a photo's class (a task class index) is a referable class, else 0."""
    return np.isin(np.asarray(labels, dtype=int), task.referable_classes).astype(int)


def check_target(name: str, value: float) -> float:
    """A sensitivity or specificity target: a number in (0, 1], else a one-line UserError."""
    if not (0.0 < float(value) <= 1.0):
        raise UserError(f"{name} must be a rate in (0, 1], e.g. 0.98, not {value!r}")
    return float(value)


def choose_operating_points(
    y_referable: np.ndarray,
    score: np.ndarray,
    spec_target: float = SPEC_TARGET,
    sens_target: float = SENS_TARGET,
) -> dict[str, OperatingPoint]:
    """The high-specificity and high-sensitivity points on (validation) ``score``."""
    spec_target = check_target("the specificity target", spec_target)
    sens_target = check_target("the sensitivity target", sens_target)
    y = np.asarray(y_referable, dtype=int)
    score = np.asarray(score, dtype=float)
    if len(np.unique(y)) < 2:
        warnings.warn(
            "no screening operating points: the validation photos are all "
            + ("referable" if y.size and y[0] == 1 else "non-referable"),
            stacklevel=2,
        )
        return {}
    fpr, tpr, thresholds = skm.roc_curve(y, score, drop_intermediate=False)
    # the curve's first threshold is +inf (refer nobody): a finite one above every score
    thresholds[0] = np.nextafter(score.max(), np.inf)
    spec = 1.0 - fpr
    points = {
        HIGH_SPECIFICITY: _best(HIGH_SPECIFICITY, spec_target, spec, tpr, thresholds, "spec"),
        HIGH_SENSITIVITY: _best(HIGH_SENSITIVITY, sens_target, tpr, spec, thresholds, "sens"),
    }
    for point in points.values():
        if point.degenerate:
            warnings.warn(_degenerate_message(point), stacklevel=2)
    return points


def _best(
    name: str,
    target: float,
    constrained: np.ndarray,
    maximised: np.ndarray,
    thresholds: np.ndarray,
    kind: str,
) -> OperatingPoint:
    """The curve point with ``constrained >= target`` and the most ``maximised`` (ties: more
    ``constrained``); both are rates along the ROC curve, ``kind`` says which is which."""
    ok = np.flatnonzero(constrained >= target - _TOLERANCE)  # never empty: an end meets it
    order = np.lexsort((-constrained[ok], -maximised[ok]))
    i = int(ok[order[0]])
    sens, spec = (
        (maximised[i], constrained[i]) if kind == "spec" else (constrained[i], maximised[i])
    )
    return OperatingPoint(
        name=name,
        target=target,
        threshold=float(thresholds[i]),
        sensitivity=float(sens),
        specificity=float(spec),
        degenerate=bool(maximised[i] <= 0.0),
    )


def _degenerate_message(point: OperatingPoint) -> str:
    if point.name == HIGH_SPECIFICITY:
        return (
            f"no threshold reaches specificity {point.target:g} on validation and finds any "
            "referable eye: the high-specificity point refers nobody"
        )
    return (
        f"no threshold reaches sensitivity {point.target:g} on validation and clears any "
        "non-referable eye: the high-sensitivity point refers everybody"
    )


def evaluate_operating_points(
    points: dict[str, OperatingPoint], y_referable: np.ndarray, score: np.ndarray
) -> dict[str, dict[str, Any]]:
    """Each point's threshold applied, unchanged, to (test) ``score``: for ``test_metrics.json``.

    ``{"high_specificity": {"target", "threshold", "val_sensitivity", "val_specificity",
    "degenerate", "sensitivity", "specificity"}, ...}``, the last two on the given split.
    """
    y = np.asarray(y_referable, dtype=int)
    score = np.asarray(score, dtype=float)
    out = {}
    for name, point in points.items():
        rates = binary_screening(y, score, point.threshold)
        row = asdict(point)
        row.pop("name")
        row["val_sensitivity"] = row.pop("sensitivity")
        row["val_specificity"] = row.pop("specificity")
        row["sensitivity"], row["specificity"] = rates["sensitivity"], rates["specificity"]
        out[name] = row
    return out
