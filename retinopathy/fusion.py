"""Per-patient fusion: let each eye's prediction borrow from the other eye of the same patient.

Both eyes of a patient usually share a grade (87% of EyePACS patients), so the other eye is
evidence. Each photo's probabilities become ``(1 - alpha) * own + alpha * other eye``, with
``alpha`` chosen on the validation split and then applied, unchanged, to the test split.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence

import numpy as np

from retinopathy.metrics import predict_classes, quadratic_kappa
from retinopathy.tasks import Task

ALPHAS = np.round(np.linspace(0.0, 0.5, 11), 2)


def pairs(patients: Sequence[str | None]) -> list[tuple[int, int]]:
    """Index pairs of photos that are a patient's two eyes (patients with exactly two photos)."""
    by_patient: dict[str, list[int]] = defaultdict(list)
    for i, p in enumerate(patients):
        if p is not None:
            by_patient[p].append(i)
    return [(a[0], a[1]) for a in by_patient.values() if len(a) == 2]


def fuse(probs: np.ndarray, patients: Sequence[str | None], alpha: float) -> np.ndarray:
    fused = np.array(probs, dtype=float, copy=True)
    for i, j in pairs(patients):
        fused[i] = (1 - alpha) * probs[i] + alpha * probs[j]
        fused[j] = (1 - alpha) * probs[j] + alpha * probs[i]
    return fused


def choose_alpha(
    probs: np.ndarray,
    labels: np.ndarray,
    patients: Sequence[str | None],
    task: Task,
    grades: Callable[[np.ndarray, np.ndarray | None], np.ndarray] | None = None,
    scores: np.ndarray | None = None,
) -> float:
    """The blend weight with the best validation QWK (ties: the smaller weight).

    ``grades(probs, scores)`` grades the fused photos as the run does (default: the most
    probable class, 0.5 on a two-class task); ``scores``, the heads' scores, are fused alike.
    """

    def predicted(alpha: float) -> np.ndarray:
        fused = fuse(probs, patients, alpha)
        if grades is None:
            return predict_classes(fused, task)
        return grades(fused, None if scores is None else fuse(scores, patients, alpha))

    kappas = [quadratic_kappa(labels, predicted(a), task.num_classes) for a in ALPHAS]
    return float(ALPHAS[int(np.argmax(kappas))])
