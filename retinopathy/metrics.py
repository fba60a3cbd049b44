"""Grading metrics, computed with scikit-learn from class probabilities.

Accuracy alone hides the most reported failure in DR grading, a model that predicts "grade 0"
for everything (73% accurate on EyePACS). Per-class recall, the confusion matrix and quadratic
weighted kappa (0 for a constant prediction) make it plain.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn import metrics as skm

from retinopathy.tasks import Task


def predict_classes(probs: np.ndarray, task: Task, threshold: float = 0.5) -> np.ndarray:
    """Argmax, except for a binary task where class 1 wins at ``p >= threshold``."""
    probs = np.asarray(probs, dtype=float)
    if task.is_binary:
        return (probs[:, 1] >= threshold).astype(int)
    return probs.argmax(axis=1)


def quadratic_kappa(y_true: np.ndarray, y_pred: np.ndarray, num_classes: int) -> float:
    """Cohen's kappa with quadratic weights: disagreement costs (i - j)^2."""
    if len(np.unique(np.concatenate([y_true, y_pred]))) < 2:
        return 0.0  # undefined (0/0) when both raters use one class; no agreement beyond chance
    return float(
        skm.cohen_kappa_score(y_true, y_pred, labels=list(range(num_classes)), weights="quadratic")
    )


def _one_vs_rest(y_true: np.ndarray, probs: np.ndarray):
    """``(class, is_that_class)`` for each class with examples on both sides of the question."""
    for k in range(probs.shape[1]):
        positives = y_true == k
        if positives.any() and (~positives).any():
            yield k, positives


def one_vs_rest_auc(y_true: np.ndarray, probs: np.ndarray) -> dict[int, float]:
    """ROC AUC of each class against the rest, for classes present and absent in ``y_true``."""
    return {k: float(skm.roc_auc_score(pos, probs[:, k])) for k, pos in _one_vs_rest(y_true, probs)}


def roc_curves(y_true: np.ndarray, probs: np.ndarray) -> dict[int, tuple[list, list]]:
    """One-vs-rest ROC curve points (false positive rate, true positive rate) per class."""
    out = {}
    for k, positives in _one_vs_rest(y_true, probs):
        fpr, tpr, _ = skm.roc_curve(positives, probs[:, k])
        out[k] = (fpr.tolist(), tpr.tolist())
    return out


def compute_metrics(
    y_true: np.ndarray, probs: np.ndarray, task: Task, threshold: float = 0.5
) -> dict[str, Any]:
    """Every number the report shows, keyed for ``metrics.csv`` (scalars) and the report (arrays).

    ``y_true`` holds task class indices; ``probs`` is (N, num_classes).
    """
    y_true = np.asarray(y_true, dtype=int)
    probs = np.asarray(probs, dtype=float)
    n = task.num_classes
    labels = list(range(n))
    y_pred = predict_classes(probs, task, threshold)
    precision, recall, f1, support = skm.precision_recall_fscore_support(
        y_true, y_pred, labels=labels, zero_division=0
    )
    cm = skm.confusion_matrix(y_true, y_pred, labels=labels)
    aucs = one_vs_rest_auc(y_true, probs)
    out: dict[str, Any] = {
        "accuracy": float(skm.accuracy_score(y_true, y_pred)),
        "macro_f1": float(f1.mean()),
        "qwk": quadratic_kappa(y_true, y_pred, n),
        "auc": float(np.mean(list(aucs.values()))) if aucs else float("nan"),
        "precision": precision.tolist(),
        "recall": recall.tolist(),
        "f1": f1.tolist(),
        "support": support.tolist(),
        "per_class_auc": [aucs.get(k, float("nan")) for k in labels],
        "confusion": cm.tolist(),
        "roc_curves": roc_curves(y_true, probs),
    }
    if task.is_binary:
        out.update(binary_screening(y_true, probs[:, 1], threshold))
    return out


def binary_screening(y_true: np.ndarray, scores: np.ndarray, threshold: float) -> dict[str, Any]:
    """Sensitivity and specificity at ``threshold``, and the ROC curve for the report."""
    y_pred = (scores >= threshold).astype(int)
    tp = int(((y_pred == 1) & (y_true == 1)).sum())
    fn = int(((y_pred == 0) & (y_true == 1)).sum())
    tn = int(((y_pred == 0) & (y_true == 0)).sum())
    fp = int(((y_pred == 1) & (y_true == 0)).sum())
    out: dict[str, Any] = {
        "sensitivity": tp / (tp + fn) if tp + fn else float("nan"),
        "specificity": tn / (tn + fp) if tn + fp else float("nan"),
        "threshold": threshold,
    }
    if len(np.unique(y_true)) == 2:
        fpr, tpr, _ = skm.roc_curve(y_true, scores)
        out["roc_fpr"], out["roc_tpr"] = fpr.tolist(), tpr.tolist()
    return out


def scalar_metrics(metrics: dict[str, Any], prefix: str = "") -> dict[str, float]:
    """The one-number metrics, for a CSV row or a progress line."""
    keys = ("accuracy", "macro_f1", "qwk", "auc", "sensitivity", "specificity")
    return {f"{prefix}{k}": float(metrics[k]) for k in keys if k in metrics}
