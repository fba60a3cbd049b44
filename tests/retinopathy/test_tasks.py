"""The grading tasks: the label mappings 5 -> 3 -> referable from one 0-4 scale."""

from __future__ import annotations

import pytest

from retinopathy.tasks import get_task


def test_grade_mappings() -> None:
    grades = [0, 1, 2, 3, 4]
    assert get_task("grade5").map_grades(grades).tolist() == [0, 1, 2, 3, 4]
    assert get_task("grade3").map_grades(grades).tolist() == [0, 1, 1, 2, 2]
    assert get_task("referable").map_grades(grades).tolist() == [0, 0, 1, 1, 1]
    assert [get_task(t).num_classes for t in ("grade5", "grade3", "referable")] == [5, 3, 2]
    with pytest.raises(ValueError, match="0-4"):
        get_task("grade3").map_grades([5])
    with pytest.raises(ValueError, match="grade5"):
        get_task("grade4")
