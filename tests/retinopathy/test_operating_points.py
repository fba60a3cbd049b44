"""Screening operating points on a hand-made ROC curve whose two points are known."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from retinopathy.operating_points import (
    HIGH_SENSITIVITY,
    HIGH_SPECIFICITY,
    SENS_TARGET,
    SPEC_TARGET,
    choose_operating_points,
    evaluate_operating_points,
    is_referable,
    referable_score,
)
from retinopathy.tasks import get_task
from shared.errors import UserError


def _validation() -> tuple[np.ndarray, np.ndarray]:
    """50 healthy eyes (48 at 0.1, one at 0.6, one at 0.9), 40 referable (10 at 0.95,
    20 at 0.7, 9 at 0.5, one at 0.05)."""
    healthy = [0.1] * 48 + [0.6, 0.9]
    referable = [0.95] * 10 + [0.7] * 20 + [0.5] * 9 + [0.05]
    y = np.array([0] * len(healthy) + [1] * len(referable))
    return y, np.array(healthy + referable)


def test_the_defaults_are_gulshans_two_points() -> None:
    assert (SPEC_TARGET, SENS_TARGET) == (0.98, 0.975)


def test_both_points_on_a_hand_made_curve() -> None:
    points = choose_operating_points(*_validation())
    spec = points[HIGH_SPECIFICITY]
    # one false positive of 50 is specificity 0.98; at 0.7 it already finds 30 of 40
    assert spec.threshold == 0.7
    assert (spec.sensitivity, spec.specificity) == pytest.approx((0.75, 0.98))
    sens = points[HIGH_SENSITIVITY]
    # 39 of 40 is 0.975: threshold 0.5, which refers 2 of the healthy eyes
    assert sens.threshold == 0.5
    assert (sens.sensitivity, sens.specificity) == pytest.approx((0.975, 0.96))
    assert not spec.degenerate and not sens.degenerate


def test_the_validation_thresholds_apply_unchanged_to_test() -> None:
    points = choose_operating_points(*_validation())
    y_test = np.array([0, 0, 0, 0, 1, 1, 1, 1])
    score = np.array([0.2, 0.55, 0.7, 0.1, 0.75, 0.69, 0.5, 0.3])
    table = evaluate_operating_points(points, y_test, score)
    assert table[HIGH_SPECIFICITY]["sensitivity"] == pytest.approx(0.25)  # only 0.75 >= 0.7
    assert table[HIGH_SPECIFICITY]["specificity"] == pytest.approx(0.75)  # 0.7 referred
    assert table[HIGH_SENSITIVITY]["sensitivity"] == pytest.approx(0.75)
    assert table[HIGH_SENSITIVITY]["specificity"] == pytest.approx(0.5)
    assert table[HIGH_SPECIFICITY]["val_sensitivity"] == pytest.approx(0.75)
    assert table[HIGH_SENSITIVITY]["target"] == SENS_TARGET


def test_a_specificity_met_only_by_referring_nobody_is_degenerate_and_warned() -> None:
    y, score = np.array([0, 0, 1, 1]), np.array([0.9, 0.1, 0.5, 0.6])  # the top one is healthy
    with pytest.warns(UserWarning, match="specificity 1 .* refers nobody"):
        points = choose_operating_points(y, score, spec_target=1.0)
    assert not points[HIGH_SENSITIVITY].degenerate
    point = points[HIGH_SPECIFICITY]
    assert point.degenerate and point.sensitivity == 0.0 and point.specificity == 1.0
    assert point.threshold > score.max()  # finite, above every validation score
    assert np.isfinite(point.threshold)


def test_a_sensitivity_met_only_by_referring_everybody_is_degenerate_and_warned() -> None:
    y, score = np.array([0, 0, 1, 1, 1]), np.array([0.1, 0.9, 0.05, 0.6, 0.95])  # lowest: ill
    with pytest.warns(UserWarning, match="sensitivity 1 .* refers everybody"):
        points = choose_operating_points(y, score, sens_target=1.0)
    assert not points[HIGH_SPECIFICITY].degenerate
    point = points[HIGH_SENSITIVITY]
    assert point.degenerate and point.specificity == 0.0 and point.threshold == 0.05


def test_validation_without_referable_eyes_has_no_points() -> None:
    with pytest.warns(UserWarning, match="all non-referable"):
        assert choose_operating_points(np.zeros(5, int), np.linspace(0, 1, 5)) == {}


@pytest.mark.parametrize("target", [0.0, 1.5, -0.2])
def test_targets_outside_zero_one_are_one_line_errors(target: float) -> None:
    with pytest.raises(UserError, match=r"specificity target must be a rate in \(0, 1\]"):
        choose_operating_points(*_validation(), spec_target=target)


def test_referable_score_from_each_tasks_probabilities() -> None:
    probs5 = np.array([[0.5, 0.2, 0.2, 0.05, 0.05]])
    assert referable_score(probs5, get_task("grade5")) == pytest.approx([0.3])
    assert referable_score(np.array([[0.7, 0.3]]), get_task("referable")) == pytest.approx([0.3])
    # grade3's "1-2" class holds grade 2: it counts, and the task says the score is inexact
    grade3 = get_task("grade3")
    assert referable_score(np.array([[0.5, 0.3, 0.2]]), grade3) == pytest.approx([0.5])
    assert not grade3.referable_is_exact and get_task("grade5").referable_is_exact
    assert is_referable(np.array([0, 1, 2, 3, 4]), get_task("grade5")).tolist() == [0, 0, 1, 1, 1]


def test_near_certain_eyes_keep_their_order_in_float32() -> None:
    logits = torch.tensor([[0.0, 0.0, 18.0, 0.0, 0.0], [0.0, 0.0, 20.0, 0.0, 0.0]])
    probs = logits.softmax(1).numpy()  # float32: both rows' P(grade >= 2) round to 1
    assert probs[:, 2:].sum(axis=1).tolist() == [1.0, 1.0]
    score = referable_score(probs, get_task("grade5"))
    assert score[0] < score[1] < 1.0
