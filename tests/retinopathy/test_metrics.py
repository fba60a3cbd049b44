"""Metrics against values worked out by hand on small fixed examples."""

from __future__ import annotations

import numpy as np
import pytest

from retinopathy.metrics import (
    compute_metrics,
    confusion_counts,
    format_rate,
    kappa_from_confusion,
    majority_baseline,
    quadratic_kappa,
)
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


def test_precision_of_a_class_never_predicted_is_undefined_not_zero() -> None:
    y_true = np.array([0, 0, 1, 1, 2, 2])
    m = compute_metrics(y_true, _one_hot([0, 0, 0, 1, 0, 2], 3), get_task("grade3"))
    assert m["precision"][0] == pytest.approx(0.5)
    assert m["precision"][1] == pytest.approx(1.0)  # predicted once, right
    m = compute_metrics(y_true, _one_hot([0, 0, 0, 0, 2, 2], 3), get_task("grade3"))
    assert np.isnan(m["precision"][1])  # never predicted: 0/0
    assert m["f1"][1] == 0.0 and m["recall"][1] == 0.0  # both still defined, and 0
    assert m["macro_f1"] == pytest.approx((2 / 3 + 0 + 1) / 3)
    assert [format_rate(x) for x in m["precision"]] == ["0.500", "n/a", "1.000"]


def test_format_rate_says_n_a_for_none_and_nan() -> None:
    assert format_rate(None) == "n/a" and format_rate(float("nan")) == "n/a"
    assert format_rate(0.0) == "0.000" and format_rate(0.87549, digits=2) == "0.88"


def test_given_predictions_replace_the_argmax_but_not_the_auc() -> None:
    y_true = np.array([0, 1, 2, 2])
    probs = _one_hot([0, 1, 2, 2], 3)
    m = compute_metrics(y_true, probs, get_task("grade3"), y_pred=np.array([0, 0, 1, 2]))
    assert m["confusion"] == [[1, 0, 0], [1, 0, 0], [0, 1, 1]]
    assert m["auc"] == pytest.approx(1.0)  # from the probabilities, which rank perfectly


def test_majority_baseline_predicts_the_training_sets_commonest_grade() -> None:
    train = np.array([0] * 70 + [1] * 5 + [2] * 20 + [3] * 3 + [4] * 2)
    y_test = np.array([0] * 6 + [2] * 3 + [4])
    row = majority_baseline(train, y_test, 5)
    assert row["class"] == 0 and row["qwk"] == 0.0
    assert row["accuracy"] == pytest.approx(0.6)
    assert row["macro_f1"] == pytest.approx((2 * 0.6 / 1.6) / 5)  # F1 of grade 0 is 0.75
    # the majority is the training set's, even where test's commonest grade differs
    assert majority_baseline(train, np.array([2, 2, 0]), 5)["accuracy"] == pytest.approx(1 / 3)


def test_kappa_from_a_stack_of_confusions_matches_scikit_learn() -> None:
    rng = np.random.default_rng(0)
    pairs = []
    for _ in range(20):
        y = rng.integers(0, 5, 60)
        pairs.append((y, np.clip(y + rng.integers(-2, 3, 60), 0, 4)))
    stack = np.stack([confusion_counts(y, p, 5) for y, p in pairs])
    expected = [quadratic_kappa(y, p, 5) for y, p in pairs]
    assert kappa_from_confusion(stack) == pytest.approx(expected, abs=1e-12)
    constant = confusion_counts(np.zeros(5, int), np.zeros(5, int), 5)
    assert kappa_from_confusion(constant) == 0.0  # undefined 0/0: no agreement beyond chance
