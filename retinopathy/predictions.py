"""The table of graded photos: one row per photo, for ``evaluate``, ``predict`` and ``grade``.

Columns: ``id``; ``true`` (the class index, where the photo's label is known); ``grade`` (the
predicted class index) and ``class`` (its name); ``score`` (a ``regress`` or ``ordinal``
head's score, the number its cut points cut); ``p_0`` ... ``p_<k>`` (the class
probabilities); ``path`` (where the photo's file is known). ``predict``'s CSV ends with
``model``: what the model was trained on, from which weights (:mod:`retinopathy.provenance`).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from retinopathy.tasks import Task
from shared.atomic import atomic_path

PROVENANCE_COLUMN = "model"


def prediction_frame(
    task: Task,
    ids: Sequence[str],
    probs: np.ndarray,
    *,
    labels: Sequence[int] | None = None,
    paths: Sequence[Path] | None = None,
    grades: Sequence[int] | None = None,
    scores: Sequence[float] | None = None,
) -> pd.DataFrame:
    """The graded photos; ``grades`` None: the most probable class of each."""
    probs = np.asarray(probs, dtype=float)
    grade = probs.argmax(1) if grades is None else np.asarray(grades, dtype=int)
    columns: dict[str, object] = {"id": list(ids)}
    if labels is not None:
        columns["true"] = np.asarray(labels, dtype=int)
    columns["grade"] = grade
    columns["class"] = [task.class_names[k] for k in grade]
    if scores is not None:
        columns["score"] = np.asarray(scores, dtype=float)
    for k in range(task.num_classes):
        columns[f"p_{k}"] = probs[:, k]
    if paths is not None:
        columns["path"] = [str(p) for p in paths]
    return pd.DataFrame(columns)


def write_predictions(path: Path, frame: pd.DataFrame) -> Path:
    """The table as CSV (probabilities to 5 decimals), written atomically."""
    with atomic_path(path) as tmp:
        frame.to_csv(tmp, index=False, float_format="%.5f")
    return Path(path)
