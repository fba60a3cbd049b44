"""Metrics against values worked out by hand on small fixed examples."""

from __future__ import annotations

import numpy as np
import pytest

from retinopathy.metrics import compute_metrics, quadratic_kappa
from retinopathy.tasks import get_task


def _one_hot(pred: list[int], n: int) -> np.ndarray:
    probs = np.full((len(pred), n), 0.1 / (n - 1))
    probs[np.arange(len(pred)), pred] = 0.9
    return probs


def test_three_class_metrics_match_hand_computation() -> None:
    # confusion (true on rows): [[2,1,0],[0,1,1],[0,0,1]]
    y_true = [0, 0, 0, 1, 1, 2]
    y_pred = [0, 0, 1, 1, 2, 2]
    m = compute_metrics(np.array(y_true), _one_hot(y_pred, 3), get_task("grade3"))
    assert m["confusion"] == [[2, 1, 0], [0, 1, 1], [0, 0, 1]]
    assert m["accuracy"] == pytest.approx(4 / 6)
    assert m["precision"] == pytest.approx([1.0, 0.5, 0.5])
    assert m["recall"] == pytest.approx([2 / 3, 0.5, 1.0])
    assert m["f1"] == pytest.approx([0.8, 0.5, 2 / 3])
    assert m["macro_f1"] == pytest.approx((0.8 + 0.5 + 2 / 3) / 3)
    # observed weighted disagreement 0.5 (two cells one step off, weight 1/4 each, counts),
    # expected under independence 2.0 -> kappa = 1 - 0.5 / 2.0
    assert m["qwk"] == pytest.approx(0.75)


def test_constant_grade_zero_predictor_scores_zero_kappa() -> None:
    y_true = np.array([0] * 73 + [1] * 7 + [2] * 15 + [3] * 3 + [4] * 2)
    m = compute_metrics(y_true, _one_hot([0] * len(y_true), 5), get_task("grade5"))
    assert m["accuracy"] == pytest.approx(0.73)
    assert m["qwk"] == 0.0
    assert m["recall"] == pytest.approx([1, 0, 0, 0, 0])


def test_kappa_is_one_for_perfect_and_penalises_far_errors_more() -> None:
    y = np.array([0, 1, 2, 3, 4, 0, 1, 2])
    assert quadratic_kappa(y, y, 5) == pytest.approx(1.0)
    near = np.array([1, 1, 2, 3, 4, 0, 1, 2])
    far = np.array([4, 1, 2, 3, 4, 0, 1, 2])
    assert quadratic_kappa(y, near, 5) > quadratic_kappa(y, far, 5)


def test_referable_sensitivity_specificity_and_auc() -> None:
    y_true = np.array([0, 0, 1, 1, 1])
    scores = np.array([0.1, 0.6, 0.4, 0.8, 0.9])
    probs = np.stack([1 - scores, scores], axis=1)
    m = compute_metrics(y_true, probs, get_task("referable"), threshold=0.5)
    assert m["sensitivity"] == pytest.approx(2 / 3)
    assert m["specificity"] == pytest.approx(1 / 2)
    assert m["auc"] == pytest.approx(5 / 6)  # 5 of 6 positive/negative pairs ranked right
    assert m["roc_fpr"][0] == 0 and m["roc_tpr"][-1] == 1
    stricter = compute_metrics(y_true, probs, get_task("referable"), threshold=0.85)
    assert stricter["sensitivity"] == pytest.approx(1 / 3)
    assert stricter["specificity"] == pytest.approx(1.0)
