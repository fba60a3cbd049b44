"""How a run turns its head's outputs into grades and referrals, and the run file that keeps
what was chosen for that on validation.

The run's first evaluation (the end of ``train``) chooses on the validation split and stores
the choice in the kept checkpoint (``best.pt``'s :data:`CHECKPOINT_KEY` entry: the grading
belongs to the weights it was chosen for, so a resumed run whose training rewrites ``best.pt``
chooses again instead of grading a new model by an old model's cut points), with a readable copy
in ``thresholds.json`` in the run folder (:data:`THRESHOLDS_JSON`, the one owner of the name):

- for a ``regress`` or ``ordinal`` head, the K-1 cut points between grades that maximise the
  validation QWK (:func:`retinopathy.thresholds.tune_cut_points`), with the QWK at the
  midpoints and tuned; cut points given at training (``train --thresholds``) are used in
  their place, the tuned ones kept beside them for the report;
- for every head and task, the two screening operating points on the referable score
  (:func:`retinopathy.operating_points.choose_operating_points`, the run's ``spec_target`` and
  ``sens_target``).

``evaluate`` and ``predict`` read it back from the checkpoint. ``--thresholds`` replaces the cut
points for one command, and ``evaluate --spec-target/--sens-target`` choose the points again on
validation for one command; neither rewrites the stored grading. A run whose checkpoint holds
none (evaluated by an older version, or resumed since) gets it at its next evaluation;
``predict`` with such a run grades at the defaults and warns.

A photo's grade:

- on the ``referable`` task: referred when its referable score reaches the threshold of the
  high-specificity point (:data:`DECIDING_POINT`: Gulshan et al.'s primary point, the one a
  screening programme refers by; the high-sensitivity point is reported beside it), or
  :data:`DEFAULT_REFERRAL` when validation had no ROC curve (one class only);
- else, with cut points (tuned, given, or a classify run's ``--thresholds``): the head's score
  cut at them (:func:`retinopathy.thresholds.apply_cut_points`);
- else (the classify head): the most probable class, as before heads existed.
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from retinopathy.operating_points import (
    HIGH_SPECIFICITY,
    OperatingPoint,
    choose_operating_points,
    is_referable,
    referable_score,
)
from retinopathy.tasks import Task
from retinopathy.thresholds import CutPointFit, apply_cut_points, midpoints, tune_cut_points
from shared.atomic import atomic_write_text

THRESHOLDS_JSON = "thresholds.json"
CHECKPOINT_KEY = "grading"  # the kept checkpoint's entry holding the run's grading
DECIDING_POINT = HIGH_SPECIFICITY
DEFAULT_REFERRAL = 0.5  # the referable task's threshold when no point could be chosen
TUNED, GIVEN_AT_TRAINING, GIVEN_NOW, MIDPOINTS = (
    "tuned on validation for QWK",
    "given at training (train --thresholds)",
    "given on the command line (--thresholds)",
    "the midpoints (the run has no tuned ones)",
)


@dataclass(frozen=True)
class Outputs:
    """A split's graded photos: class probabilities (N, K), head scores (N,), task labels (N,)."""

    probs: np.ndarray
    scores: np.ndarray
    labels: np.ndarray


@dataclass(frozen=True)
class Grading:
    """What turns a run's outputs into grades: its cut points and its operating points."""

    task: Task
    head: str
    cut_points: tuple[float, ...] | None = None  # the ones in use; None: the most probable class
    cut_source: str | None = None
    tuned: CutPointFit | None = None  # the validation fit, also when other cut points are used
    points: dict[str, OperatingPoint] = field(default_factory=dict)

    @property
    def referral_threshold(self) -> float:
        """The referable score at which the referable task refers a photo."""
        point = self.points.get(DECIDING_POINT)
        return DEFAULT_REFERRAL if point is None else point.threshold

    def grades(self, probs: np.ndarray, scores: np.ndarray | None) -> np.ndarray:
        """The task class of each photo (see the module's docstring)."""
        if self.task.is_binary:
            referred = referable_score(probs, self.task) >= self.referral_threshold
            return referred.astype(int)
        if self.cut_points is not None:
            return apply_cut_points(np.asarray(scores, dtype=float), self.cut_points)
        return np.asarray(probs).argmax(axis=1)

    def to_json(self) -> dict[str, Any]:
        return {
            "head": self.head,
            "task": self.task.name,
            "cut_points": None if self.cut_points is None else list(self.cut_points),
            "cut_points_source": self.cut_source,
            "tuned": None if self.tuned is None else asdict(self.tuned),
            "operating_points": {name: asdict(p) for name, p in self.points.items()},
        }

    @classmethod
    def from_json(cls, record: dict[str, Any], task: Task) -> Grading:
        tuned = record.get("tuned")
        cuts = record.get("cut_points")
        return cls(
            task=task,
            head=record["head"],
            cut_points=None if cuts is None else tuple(cuts),
            cut_source=record.get("cut_points_source"),
            tuned=None if tuned is None else CutPointFit(tuple(tuned["cut_points"]),
                                                         tuned["qwk_default"], tuned["qwk_tuned"]),
            points={k: OperatingPoint(**v) for k, v in record["operating_points"].items()},
        )  # fmt: skip


def scored(head: str) -> bool:
    """True for the heads whose grades are their score cut at tuned cut points."""
    return head != "classify"


def choose_grading(
    task: Task,
    head: str,
    val: Outputs,
    *,
    spec_target: float,
    sens_target: float,
    given: Sequence[float] | None = None,
) -> Grading:
    """The run's grading, chosen on the validation outputs ``val``; ``given``: train's cuts."""
    tuned = None
    if scored(head) and not task.is_binary:
        tuned = tune_cut_points(val.labels, val.scores, task.num_classes)
    if given is not None:
        cuts, source = tuple(given), GIVEN_AT_TRAINING
    elif tuned is not None:
        cuts, source = tuned.cut_points, TUNED
    else:
        cuts, source = None, None
    points = choose_points(task, val, spec_target, sens_target)
    return Grading(task, head, cuts, source, tuned, points)


def choose_points(
    task: Task, val: Outputs, spec_target: float, sens_target: float
) -> dict[str, OperatingPoint]:
    """The two screening operating points on the validation outputs."""
    return choose_operating_points(
        is_referable(val.labels, task), referable_score(val.probs, task), spec_target, sens_target
    )


def with_cut_points(grading: Grading, cut_points: Sequence[float] | None) -> Grading:
    """``grading`` with the command line's cut points in place of its own (None: unchanged)."""
    if cut_points is None:
        return grading
    return replace(grading, cut_points=tuple(cut_points), cut_source=GIVEN_NOW)


def thresholds_path(run_dir: str | Path) -> Path:
    return Path(run_dir) / THRESHOLDS_JSON


def read_grading(run_dir: str | Path, task: Task) -> Grading | None:
    """The readable copy of the run's grading (``thresholds.json``), or None without one."""
    path = thresholds_path(run_dir)
    if not path.is_file():
        return None
    return Grading.from_json(json.loads(path.read_text(encoding="utf-8")), task)


def write_grading(run_dir: str | Path, grading: Grading) -> Path:
    path = thresholds_path(run_dir)
    atomic_write_text(path, json.dumps(grading.to_json(), indent=1) + "\n")
    return path


def checkpoint_grading(state: Mapping[str, Any], task: Task) -> Grading | None:
    """The grading a kept checkpoint's state holds, or None when it holds none."""
    record = state.get(CHECKPOINT_KEY)
    return None if record is None else Grading.from_json(record, task)


def stored_grading(
    state: Mapping[str, Any],
    task: Task,
    head: str,
    given: Sequence[float] | None,
    where: str | Path = "the kept checkpoint",
):
    """The grading ``predict`` uses: the one the kept checkpoint ``state`` (read from ``where``)
    holds, else the defaults (with a warning where they are not what an evaluation would
    choose)."""
    stored = checkpoint_grading(state, task)
    if stored is not None:
        return stored
    if given is not None:
        return Grading(task, head, tuple(given), GIVEN_AT_TRAINING)
    if not (scored(head) or task.is_binary):
        return Grading(task, head)  # the classify head's argmax needs nothing chosen
    what = "refers at 0.5" if task.is_binary else "cuts at the midpoints"
    warnings.warn(
        f"{where} holds no grading (the run was not evaluated since it was trained or "
        f"resumed): the grading {what}; evaluate the run first for its tuned thresholds",
        stacklevel=2,
    )
    cuts = None if task.is_binary else midpoints(task.num_classes)
    return Grading(task, head, cuts, None if cuts is None else MIDPOINTS)
