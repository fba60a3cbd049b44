"""The numbers of a run's evaluation, from its graded splits: what ``test_metrics.json`` holds.

    results = evaluation_results(grading, val, test, test_patients, n_resamples=1000)
    results.test, results.val          # compute_metrics of each split, at the run's grading
    results.ci95                       # {"qwk": [lo, hi], "accuracy", "macro_f1", "auc",
                                       #  "sensitivity", "specificity"}
    results.operating_points           # both points on test, each with its own "ci95"
    results.cut_points                 # the QWK before and after tuning (scored heads)
    per_source(grading, test, sources) # a pooled run's datasets, each one's n and metrics

The intervals are the patient bootstrap of :mod:`retinopathy.uncertainty`. ``ci95``'s
sensitivity and specificity are those of the referral decision at the deciding operating point
(:data:`retinopathy.grading.DECIDING_POINT`), which on the ``referable`` task is the hard
prediction itself; without operating points a multi-class task has none.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from sklearn import metrics as skm

from retinopathy import fusion
from retinopathy.grading import DECIDING_POINT, TUNED, Grading, Outputs
from retinopathy.metrics import binary_screening, compute_metrics, quadratic_kappa, scalar_metrics
from retinopathy.operating_points import (
    evaluate_operating_points,
    is_referable,
    referable_score,
)
from retinopathy.thresholds import apply_cut_points, midpoints
from retinopathy.uncertainty import confidence_intervals, patient_groups, screening_intervals


@dataclass
class Results:
    test: dict[str, Any]
    val: dict[str, Any]
    ci95: dict[str, list[float]]
    operating_points: dict[str, dict[str, Any]]
    cut_points: dict[str, Any] | None


def evaluation_results(
    grading: Grading,
    val: Outputs,
    test: Outputs,
    test_patients: Sequence[str | None],
    n_resamples: int,
) -> Results:
    """Every number of the evaluation (see the module's docstring)."""
    graded = set_results(grading, test, test_patients, n_resamples)
    graded.val = split_metrics(grading, val)
    graded.cut_points = cut_point_rows(grading, val, test)
    return graded


def set_results(
    grading: Grading, test: Outputs, test_patients: Sequence[str | None], n_resamples: int
) -> Results:
    """The numbers of one graded set alone (no validation side: ``val`` empty, no cut-point
    rows): its metrics, their intervals and both operating points on it. An external dataset
    graded whole gets these."""
    groups = patient_groups(test_patients)
    test_metrics = split_metrics(grading, test)
    points = operating_points_on_test(grading, test, groups, n_resamples)
    ci = confidence_intervals(
        test.labels,
        grading.grades(test.probs, test.scores),
        test.probs,
        groups,
        num_classes=grading.task.num_classes,
        n_resamples=n_resamples,
    )
    if not grading.task.is_binary and DECIDING_POINT in points:
        ci.update(points[DECIDING_POINT]["ci95"])
    return Results(test_metrics, {}, ci, points, None)


def split_metrics(grading: Grading, out: Outputs) -> dict[str, Any]:
    """compute_metrics at the run's grading; the referable score's ROC curve for the report."""
    task = grading.task
    threshold = grading.referral_threshold
    y_pred = grading.grades(out.probs, out.scores)
    m = compute_metrics(out.labels, out.probs, task, threshold=threshold, y_pred=y_pred)
    score = referable_score(out.probs, task)
    if task.is_binary:  # the rates of the referral decision itself, at the same score
        m.update(binary_screening(out.labels, score, threshold))
    else:
        y = is_referable(out.labels, task)
        if len(np.unique(y)) == 2:
            fpr, tpr, _ = skm.roc_curve(y, score)
            m["roc_referable"] = (fpr.tolist(), tpr.tolist())
    return m


def per_source(grading: Grading, out: Outputs, sources: Sequence[str]) -> dict[str, dict]:
    """Each dataset's share of a pooled split, graded as the whole is: its photo count ``n`` and
    its one-number metrics (accuracy, macro F1, QWK, AUC; sensitivity and specificity on a
    binary task), by dataset name in the order they first appear."""
    names = np.asarray(sources)
    rows = {}
    for name in dict.fromkeys(sources):
        mine = names == name
        part = Outputs(out.probs[mine], out.scores[mine], out.labels[mine])
        rows[name] = {"n": int(mine.sum()), **scalar_metrics(split_metrics(grading, part))}
    return rows


def operating_points_on_test(
    grading: Grading, test: Outputs, groups: np.ndarray, n_resamples: int
) -> dict[str, dict[str, Any]]:
    """Each validation point on test, with the 95% intervals of its sensitivity/specificity."""
    y = is_referable(test.labels, grading.task)
    score = referable_score(test.probs, grading.task)
    rows = evaluate_operating_points(grading.points, y, score)
    for row in rows.values():
        referred = (score >= row["threshold"]).astype(int)
        row["ci95"] = screening_intervals(y, referred, groups, n_resamples)
    return rows


def cut_point_rows(grading: Grading, val: Outputs, test: Outputs) -> dict[str, Any] | None:
    """The QWK of each set of cut points on both splits: midpoints, tuned, and given ones."""
    if grading.cut_points is None and grading.tuned is None:
        return None
    k = grading.task.num_classes
    sets = {"midpoints": midpoints(k)}
    if grading.tuned is not None:
        sets["tuned"] = grading.tuned.cut_points
    if grading.cut_points is not None and grading.cut_source != TUNED:
        sets["in use"] = grading.cut_points
    rows = {
        name: {
            "cut_points": list(cuts),
            "val_qwk": quadratic_kappa(val.labels, apply_cut_points(val.scores, cuts), k),
            "test_qwk": quadratic_kappa(test.labels, apply_cut_points(test.scores, cuts), k),
        }
        for name, cuts in sets.items()
    }
    in_use = None if grading.cut_points is None else list(grading.cut_points)
    return {"head": grading.head, "in_use": in_use, "source": grading.cut_source, "rows": rows}


def fused_results(
    grading: Grading,
    val: Outputs,
    test: Outputs,
    val_patients: Sequence[str | None],
    test_patients: Sequence[str | None],
) -> tuple[float, dict[str, Any]] | None:
    """The eye-fusion weight chosen on validation and the fused test metrics (None: no pairs)."""
    if not fusion.pairs(test_patients):
        return None
    alpha = fusion.choose_alpha(
        val.probs, val.labels, val_patients, grading.task, grades=grading.grades, scores=val.scores
    )
    fused = Outputs(
        fusion.fuse(test.probs, test_patients, alpha),
        fusion.fuse(test.scores, test_patients, alpha),
        test.labels,
    )
    return alpha, split_metrics(grading, fused)
