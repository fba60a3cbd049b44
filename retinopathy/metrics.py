"""Grading metrics, computed with scikit-learn from class probabilities.

Accuracy alone hides the most reported failure in DR grading, a model that predicts "grade 0"
for everything (73% accurate on EyePACS). Per-class recall, the confusion matrix and quadratic
weighted kappa (0 for a constant prediction) make it plain, and so does the row of the
"always the majority grade" baseline (:func:`majority_baseline`) printed beside the model.

The precision of a class the model never predicts is undefined (0/0), not 0: it is NaN here and
"n/a" once formatted (:func:`format_rate`), so an empty column cannot pass for a measured 0.000.
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


def quadratic_weights(num_classes: int) -> np.ndarray:
    """The (K, K) disagreement weights ``(i - j)^2 / (K - 1)^2`` of quadratic weighted kappa."""
    k = np.arange(num_classes, dtype=float)
    return (k[:, None] - k[None, :]) ** 2 / max(num_classes - 1, 1) ** 2


def confusion_counts(y_true: np.ndarray, y_pred: np.ndarray, num_classes: int) -> np.ndarray:
    """(K, K) counts, true class on rows: ``confusion_matrix`` without its checks, for loops."""
    cells = np.asarray(y_true, dtype=int) * num_classes + np.asarray(y_pred, dtype=int)
    counts = np.bincount(cells, minlength=num_classes * num_classes)
    return counts.reshape(num_classes, num_classes)


def kappa_from_confusion(confusion: np.ndarray) -> np.ndarray | float:
    """Quadratic weighted kappa of one (K, K) confusion matrix or of a stack (..., K, K).

    ``1 - sum(W * O) / sum(W * E)`` with ``E`` the counts expected if true and predicted class
    were independent (Cohen 1968): scikit-learn's ``cohen_kappa_score`` for one matrix, but for
    thousands of matrices at once (threshold search, bootstrap). 0 where it is undefined (both
    raters use one and the same class), as :func:`quadratic_kappa` says.
    """
    o = np.asarray(confusion, dtype=float)
    w = quadratic_weights(o.shape[-1])
    n = o.sum(axis=(-2, -1))
    expected = o.sum(axis=-1)[..., :, None] * o.sum(axis=-2)[..., None, :]
    expected = expected / np.where(n > 0, n, 1.0)[..., None, None]
    chance = (w * expected).sum(axis=(-2, -1))
    observed = (w * o).sum(axis=(-2, -1))
    kappa = 1.0 - observed / np.where(chance > 0, chance, 1.0)
    kappa = np.where(chance > 0, kappa, 0.0)
    return float(kappa) if kappa.ndim == 0 else kappa


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
    y_true: np.ndarray,
    probs: np.ndarray,
    task: Task,
    threshold: float = 0.5,
    y_pred: np.ndarray | None = None,
) -> dict[str, Any]:
    """Every number the report shows, keyed for ``metrics.csv`` (scalars) and the report (arrays).

    ``y_true`` holds task class indices; ``probs`` is (N, num_classes). ``y_pred``, when given,
    are the predicted classes (e.g. a regression's score cut at tuned thresholds) in place of
    the argmax of ``probs``; AUC and the ROC curves always come from ``probs``, and a binary
    task's sensitivity and specificity from ``probs[:, 1] >= threshold``. A class never
    predicted has precision NaN (see the module's docstring); its F1 is 0 as before.
    """
    y_true = np.asarray(y_true, dtype=int)
    probs = np.asarray(probs, dtype=float)
    n = task.num_classes
    labels = list(range(n))
    if y_pred is None:
        y_pred = predict_classes(probs, task, threshold)
    y_pred = np.asarray(y_pred, dtype=int)
    precision, recall, f1, support = skm.precision_recall_fscore_support(
        y_true, y_pred, labels=labels, zero_division=0
    )
    cm = skm.confusion_matrix(y_true, y_pred, labels=labels)
    precision = np.where(cm.sum(axis=0) > 0, precision, np.nan)
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


def majority_baseline(
    train_labels: np.ndarray, y_true: np.ndarray, num_classes: int
) -> dict[str, Any]:
    """The row "always the majority grade": the training set's commonest class for every photo.

    Its QWK is 0 by construction (a constant rater agrees no more than chance), so a model whose
    accuracy and macro F1 sit at this row's has learnt nothing but the class shares.
    """
    counts = np.bincount(np.asarray(train_labels, dtype=int), minlength=num_classes)
    majority = int(counts.argmax())  # ties: the lower grade, the conservative call
    y_true = np.asarray(y_true, dtype=int)
    y_pred = np.full_like(y_true, majority)
    labels = list(range(num_classes))
    f1 = skm.f1_score(y_true, y_pred, labels=labels, average=None, zero_division=0)
    return {
        "class": majority,
        "accuracy": float(skm.accuracy_score(y_true, y_pred)) if y_true.size else float("nan"),
        "qwk": 0.0,
        "macro_f1": float(np.mean(f1)),
    }


def format_rate(x: float | None, digits: int = 3) -> str:
    """A rate for a table: ``0.875``, or ``n/a`` where it is undefined (None or NaN)."""
    if x is None or not np.isfinite(x):
        return "n/a"
    return f"{x:.{digits}f}"
