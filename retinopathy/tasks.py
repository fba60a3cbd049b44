"""The grading tasks: one place that maps the clinical 0-4 grade to each task's classes.

- ``grade5``: the five ICDR grades (0 none, 1 mild, 2 moderate, 3 severe NPDR, 4 proliferative).
- ``grade3``: the reports' relaxation, 0 / 1-2 / 3-4.
- ``referable``: the screening question, 0-1 (refer later) vs 2-4 (refer now).

Training, metrics, reports and prediction all go through :func:`get_task`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

GRADES = (0, 1, 2, 3, 4)  # the ICDR scale every dataset is read into
GRADE_NAMES = ("0 none", "1 mild", "2 moderate", "3 severe", "4 proliferative")
GRADE_RANGE = f"{GRADES[0]}-{GRADES[-1]}"  # "0-4", for messages
REFERABLE_GRADE = 2  # moderate NPDR or worse is referable (Gulshan et al. 2016)


@dataclass(frozen=True)
class Task:
    name: str
    grade_to_class: tuple[int, ...]  # index: clinical grade -> class index
    class_names: tuple[str, ...]
    description: str

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    @property
    def is_binary(self) -> bool:
        return self.num_classes == 2

    @property
    def keeps_every_grade(self) -> bool:
        """True when each clinical grade is a class of its own (no grades merged)."""
        return self.grade_to_class == GRADES

    @property
    def referable_classes(self) -> tuple[int, ...]:
        """The classes that hold a referable grade (>= ``REFERABLE_GRADE``).

        Exact for ``grade5`` and ``referable``. ``grade3``'s "1-2" class mixes grade 1 (not
        referable) with grade 2 (referable); it counts as referable, so on ``grade3`` the
        referable score is P(grade >= 1), the screening question asked one grade lower
        (:attr:`referable_is_exact` says which).
        """
        classes = {self.grade_to_class[g] for g in GRADES if g >= REFERABLE_GRADE}
        return tuple(sorted(classes))

    @property
    def referable_is_exact(self) -> bool:
        """True when no class holds grades on both sides of ``REFERABLE_GRADE``."""
        below = {self.grade_to_class[g] for g in GRADES if g < REFERABLE_GRADE}
        return not below & set(self.referable_classes)

    def map_grades(self, grades: Sequence[int] | np.ndarray) -> np.ndarray:
        """Clinical grades -> this task's class indices."""
        grades = np.asarray(grades, dtype=int)
        if grades.size and (grades.min() < GRADES[0] or grades.max() > GRADES[-1]):
            raise ValueError(
                f"grades must lie in {GRADE_RANGE}, got {sorted(set(grades.tolist()))}"
            )
        return np.asarray(self.grade_to_class)[grades]


TASKS: dict[str, Task] = {
    "grade5": Task("grade5", GRADES, GRADE_NAMES, f"five ICDR grades, {GRADE_RANGE}"),
    "grade3": Task(
        "grade3",
        (0, 1, 1, 2, 2),
        ("0 none", "1-2 mild/moderate", "3-4 severe/PDR"),
        "three classes: 0 / 1-2 / 3-4",
    ),
    "referable": Task(
        "referable",
        (0, 0, 1, 1, 1),
        ("0-1 non-referable", "2-4 referable"),
        "referable DR: 0-1 vs 2-4",
    ),
}


def get_task(name: str) -> Task:
    try:
        return TASKS[name]
    except KeyError:
        raise ValueError(f"unknown task {name!r}; choose one of: {', '.join(TASKS)}") from None
