"""Cut points between grades on a continuous score, tuned on validation to maximise QWK.

A regression (or ordinal) head gives each photo a number; K-1 cut points ``t_0 < ... < t_K-2``
turn it into a grade (``grade = number of cut points <= score``). Rounding (the midpoints
``k + 0.5``) is the default. The Kaggle 2015 EyePACS winners tuned the cut points on held-out
data for quadratic weighted kappa, the competition's metric, which rounding does not maximise:
a regression trained on imbalanced grades pulls its outputs towards the common grade 0.

The search is coordinate ascent, exact in each coordinate: with the other cut points fixed,
moving cut ``j`` between its neighbours only moves photos between grades ``j`` and ``j + 1``,
so every distinct position (every gap between consecutive scores) is scored at once from
cumulative confusion counts, and the best is taken (ties: the gap nearest the current cut).
Sweeps repeat until none moves a cut. QWK never falls from one step to the next, so the result
is at least the midpoints' QWK. Each cut lands in the middle of its gap between scores (the
widest margin that gives the same grades), so the result is strictly increasing, and it is
deterministic: it depends on the scores and grades alone (no random start, nothing to seed).

    fit = tune_cut_points(val_labels, val_scores, num_classes=5)
    fit.cut_points, fit.qwk_default, fit.qwk_tuned
    grades = apply_cut_points(test_scores, fit.cut_points)
    cuts = parse_cut_points("0.7,1.4,2.6,3.3", num_classes=5)   # the user's --thresholds
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from retinopathy.metrics import confusion_counts, kappa_from_confusion
from shared.errors import UserError

MAX_SWEEPS = 50  # each sweep raises QWK or ends the search; real data settles in a few
EDGE_MARGIN = 0.5  # half a grade: where a cut goes when no score lies beyond it


@dataclass(frozen=True)
class CutPointFit:
    """Tuned cut points and the validation QWK they give, beside the midpoints' QWK."""

    cut_points: tuple[float, ...]
    qwk_default: float
    qwk_tuned: float


def midpoints(num_classes: int) -> tuple[float, ...]:
    """The default cut points ``0.5, 1.5, ...``: rounding to the nearest grade."""
    return tuple(k + 0.5 for k in range(num_classes - 1))


def apply_cut_points(scores: np.ndarray, cut_points: Sequence[float]) -> np.ndarray:
    """Grades: how many cut points each score reaches (a score on a cut takes the upper grade)."""
    return np.searchsorted(np.asarray(cut_points, dtype=float), scores, side="right")


def parse_cut_points(text: str, num_classes: int) -> tuple[float, ...]:
    """``"a,b,c,d"`` -> K-1 strictly increasing numbers; anything else is a one-line UserError."""
    try:
        values = tuple(float(v) for v in text.split(","))
    except ValueError:
        raise UserError(f"thresholds must be numbers separated by commas, got {text!r}") from None
    return check_cut_points(values, num_classes, shown=text)


def check_cut_points(
    values: Sequence[float], num_classes: int, shown: str | None = None
) -> tuple[float, ...]:
    """``values`` if they are K-1 finite, strictly increasing numbers, else a UserError."""
    shown = shown if shown is not None else ",".join(f"{v:g}" for v in values)
    need = num_classes - 1
    cuts = np.asarray(values, dtype=float)
    if cuts.size != need:
        raise UserError(
            f"thresholds need {need} numbers for {num_classes} classes "
            f"(a cut between each pair of neighbouring grades), got {cuts.size}: {shown!r}"
        )
    if not np.all(np.isfinite(cuts)) or np.any(np.diff(cuts) <= 0):
        raise UserError(f"thresholds must be finite and strictly increasing, got {shown!r}")
    return tuple(float(v) for v in cuts)


def tune_cut_points(
    y_true: np.ndarray,
    scores: np.ndarray,
    num_classes: int,
    start: Sequence[float] | None = None,
) -> CutPointFit:
    """The K-1 cut points on ``scores`` with the best QWK against ``y_true`` (class indices)."""
    y_true = np.asarray(y_true, dtype=int)
    scores = np.asarray(scores, dtype=float)
    if y_true.shape != scores.shape or not np.all(np.isfinite(scores)):
        raise ValueError("tune_cut_points needs one finite score per label")
    cuts = list(midpoints(num_classes) if start is None else start)
    for _ in range(MAX_SWEEPS):
        moved = False
        for j in range(num_classes - 1):
            new = _best_cut(y_true, scores, cuts, j, num_classes)
            moved |= new != cuts[j]
            cuts[j] = new
        if not moved:
            break
    qwk_default = _qwk(y_true, scores, midpoints(num_classes), num_classes)
    tuned = check_cut_points(cuts, num_classes)
    return CutPointFit(tuned, qwk_default, _qwk(y_true, scores, tuned, num_classes))


def _qwk(y_true: np.ndarray, scores: np.ndarray, cuts: Sequence[float], k: int) -> float:
    predicted = apply_cut_points(scores, cuts)
    return float(kappa_from_confusion(confusion_counts(y_true, predicted, k)))


def _best_cut(y_true: np.ndarray, scores: np.ndarray, cuts: list[float], j: int, k: int) -> float:
    """Cut ``j``'s best position between its neighbours, the others fixed."""
    lo = cuts[j - 1] if j > 0 else -np.inf
    hi = cuts[j + 1] if j + 1 < len(cuts) else np.inf
    inside = (scores >= lo) & (scores < hi)  # the photos graded j or j + 1 by cut j
    values = np.unique(scores[inside])
    if values.size == 0:
        return cuts[j]
    others = np.where(inside, -1, apply_cut_points(scores, cuts))
    base = confusion_counts(y_true[~inside], others[~inside], k)
    # photos_below[i, c]: photos of true class c among the i lowest distinct scores in range
    position = np.searchsorted(values, scores[inside])
    per_value = np.zeros((values.size, k))
    np.add.at(per_value, (position, y_true[inside]), 1)
    below = np.vstack([np.zeros(k), np.cumsum(per_value, axis=0)])
    stack = np.repeat(base[None].astype(float), values.size + 1, axis=0)
    stack[:, :, j] += below
    stack[:, :, j + 1] += below[-1] - below
    qwk = kappa_from_confusion(stack)
    if values[0] == lo:
        qwk[0] = -np.inf  # a cut on its neighbour: no room below the lowest score
    edges = np.concatenate([[lo], values, [hi]])
    current = int(np.searchsorted(values, cuts[j], side="left"))  # gap the cut is in now
    best = np.flatnonzero(qwk >= qwk.max() - 1e-12)
    gap = int(best[np.argmin(np.abs(best - current))])
    if gap == current:
        return cuts[j]  # same grades: keep it, so a sweep that changes nothing ends the search
    return _gap_middle(edges[gap], edges[gap + 1])


def _gap_middle(left: float, right: float) -> float:
    if np.isinf(left):
        return float(right - EDGE_MARGIN)
    if np.isinf(right):
        return float(left + EDGE_MARGIN)
    return float((left + right) / 2)
