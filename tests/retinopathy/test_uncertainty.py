"""Bootstrap intervals over patients: a known statistic, the vectorised metrics, the grouping."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn import metrics as skm

from retinopathy.metrics import quadratic_kappa
from retinopathy.uncertainty import (
    bootstrap_metric,
    confidence_intervals,
    format_with_interval,
    patient_groups,
    percentile_interval,
    resample_weights,
    screening_intervals,
)


def _mean(y: np.ndarray, _: np.ndarray) -> float:
    return float(y.mean())


def test_interval_of_a_bernoulli_mean_has_the_normal_width_and_covers_it() -> None:
    rng = np.random.default_rng(0)
    y = (rng.random(2000) < 0.3).astype(int)
    groups = patient_groups([None] * y.size)  # every photo its own patient
    lo, hi = percentile_interval(bootstrap_metric(_mean, y, y, groups, seed=1))
    p = y.mean()
    normal = 2 * 1.96 * np.sqrt(p * (1 - p) / y.size)
    assert lo < p < hi and lo < 0.3 < hi
    assert hi - lo == pytest.approx(normal, rel=0.12)


def test_both_eyes_are_always_drawn_together() -> None:
    patients = [f"p{i // 2}" for i in range(40)] + [None, None]
    groups = patient_groups(patients)
    assert groups[0] == groups[1] != groups[2] and groups[40] != groups[41]
    for weights in resample_weights(groups, 300, seed=0):
        assert (weights[:, 0:40:2] == weights[:, 1:40:2]).all()
        assert weights[:, 0:40:2].std() > 0  # and they are drawn, not all kept once


def test_grouped_interval_is_wider_when_both_eyes_share_a_grade() -> None:
    # both eyes of each of 1000 patients have the same outcome: 1000 observations, not 2000
    rng = np.random.default_rng(2)
    per_patient = (rng.random(1000) < 0.4).astype(int)
    y = np.repeat(per_patient, 2)
    by_patient = patient_groups([str(i // 2) for i in range(y.size)])
    by_photo = patient_groups([None] * y.size)
    lo, hi = percentile_interval(bootstrap_metric(_mean, y, y, by_patient, seed=0))
    lo1, hi1 = percentile_interval(bootstrap_metric(_mean, y, y, by_photo, seed=0))
    p = y.mean()
    assert hi - lo == pytest.approx(2 * 1.96 * np.sqrt(p * (1 - p) / 1000), rel=0.12)
    assert (hi - lo) / (hi1 - lo1) == pytest.approx(np.sqrt(2), rel=0.15)


def _graded(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = rng.choice(5, n, p=[0.6, 0.1, 0.2, 0.06, 0.04])
    logits = rng.normal(size=(n, 5))
    logits[np.arange(n), y] += 1.5
    probs = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    return y, probs.argmax(axis=1), probs


def _macro_auc(y: np.ndarray, probs: np.ndarray) -> float:
    aucs = [skm.roc_auc_score(y == k, probs[:, k]) for k in range(5) if 0 < (y == k).sum() < len(y)]
    return float(np.mean(aucs))


def test_vectorised_intervals_equal_scikit_learn_on_the_same_resamples() -> None:
    y, pred, probs = _graded(300)
    groups = patient_groups([str(i // 2) for i in range(y.size)])
    # 120: two chunks of resamples, the second a part one
    ci = confidence_intervals(y, pred, probs, groups, num_classes=5, n_resamples=120, seed=4)
    both = np.stack([pred, np.arange(y.size)], axis=1)  # predictions and rows, resampled alike
    reference = {
        "qwk": lambda t, o: quadratic_kappa(t, o[:, 0], 5),
        "accuracy": lambda t, o: skm.accuracy_score(t, o[:, 0]),
        "macro_f1": lambda t, o: skm.f1_score(
            t, o[:, 0], labels=range(5), average="macro", zero_division=0
        ),
        "auc": lambda t, o: _macro_auc(t, probs[o[:, 1]]),
    }
    for key, fn in reference.items():
        slow = percentile_interval(bootstrap_metric(fn, y, both, groups, 120, seed=4))
        assert ci[key] == pytest.approx(slow, abs=1e-9), key


def test_two_class_intervals_add_sensitivity_and_specificity() -> None:
    rng = np.random.default_rng(5)
    y = (rng.random(400) < 0.3).astype(int)
    referred = np.where(rng.random(400) < 0.85, y, 1 - y)
    probs = np.stack([1 - referred * 0.8, referred * 0.8 + 0.1], axis=1)
    groups = patient_groups([None] * 400)
    ci = confidence_intervals(y, referred, probs, groups, num_classes=2, n_resamples=300)
    rates = screening_intervals(y, referred, groups, n_resamples=300)
    sens = referred[y == 1].mean()
    assert ci["sensitivity"] == rates["sensitivity"] and ci["sensitivity"][0] < sens
    assert ci["specificity"][0] < (referred[y == 0] == 0).mean() < ci["specificity"][1]
    assert set(ci) == {"qwk", "accuracy", "macro_f1", "auc", "sensitivity", "specificity"}


def test_same_seed_same_interval_other_seed_other() -> None:
    y, pred, probs = _graded(200, seed=6)
    groups = patient_groups([str(i // 2) for i in range(200)])
    a = confidence_intervals(y, pred, probs, groups, num_classes=5, n_resamples=150, seed=7)
    b = confidence_intervals(y, pred, probs, groups, num_classes=5, n_resamples=150, seed=7)
    c = confidence_intervals(y, pred, probs, groups, num_classes=5, n_resamples=150, seed=8)
    assert a == b and a != c


def test_a_thousand_resamples_of_three_thousand_photos_narrow_around_the_estimate() -> None:
    y, pred, probs = _graded(3000, seed=9)
    groups = patient_groups([str(i // 2) for i in range(3000)])
    ci = confidence_intervals(y, pred, probs, groups, num_classes=5)
    accuracy = float(np.mean(y == pred))
    assert ci["accuracy"][0] < accuracy < ci["accuracy"][1]
    # 1,500 patients: the interval is a few points wide, not tens
    assert 0.005 < ci["accuracy"][1] - ci["accuracy"][0] < 0.06
    for lo, hi in ci.values():
        assert lo < hi


def test_format_with_interval() -> None:
    assert format_with_interval(0.8812, [0.8491, 0.9103]) == "0.88 (0.85-0.91)"
    assert format_with_interval(0.02, [-0.1, 0.06]) == "0.02 (-0.10 to 0.06)"
    assert format_with_interval(0.8812, [0.8491, 0.9103], digits=3) == "0.881 (0.849-0.910)"
    assert format_with_interval(float("nan"), [0.1, 0.2]) == "n/a"
    assert format_with_interval(0.5, [float("nan"), float("nan")]) == "0.50"
