"""Cut points tuned for QWK on hand-made scores where the best cut points are known."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from retinopathy.metrics import quadratic_kappa
from retinopathy.thresholds import (
    apply_cut_points,
    check_cut_points,
    midpoints,
    parse_cut_points,
    tune_cut_points,
)
from shared.errors import UserError


def _separable(shift: float = 0.0, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Grade k scored in [1.1 k + 0.8, 1.1 k + 1.0] (+ shift): gaps of 0.9 between grades."""
    rng = np.random.default_rng(seed)
    y = np.repeat(np.arange(5), [60, 10, 20, 6, 4])
    return y, 1.1 * y + 0.8 + 0.2 * rng.random(y.size) + shift


def test_midpoints_and_applying_cut_points() -> None:
    assert midpoints(5) == (0.5, 1.5, 2.5, 3.5)
    grades = apply_cut_points(np.array([-3.0, 0.49, 0.5, 1.2, 3.5, 9.0]), midpoints(5))
    assert grades.tolist() == [0, 0, 1, 1, 4, 4]  # a score on a cut takes the upper grade


def test_separable_scores_tune_to_kappa_one_with_every_cut_inside_its_gap() -> None:
    y, scores = _separable()
    fit = tune_cut_points(y, scores, 5)
    assert fit.qwk_tuned == pytest.approx(1.0)
    assert fit.qwk_default < 0.9  # rounding calls every eye one grade too high
    for k, cut in enumerate(fit.cut_points):  # the gap between grade k and grade k + 1
        assert scores[y == k].max() < cut < scores[y == k + 1].min()
    assert (apply_cut_points(scores, fit.cut_points) == y).all()


def test_tuned_cuts_beat_the_midpoints_on_shrunk_regression_scores() -> None:
    # a regression pulled towards grade 0: true grade k comes out near 0.6 k, with noise
    rng = np.random.default_rng(1)
    y = rng.choice(5, 600, p=[0.6, 0.1, 0.18, 0.07, 0.05])
    scores = 0.6 * y + rng.normal(0, 0.25, y.size)
    fit = tune_cut_points(y, scores, 5)
    rounded = quadratic_kappa(y, apply_cut_points(scores, midpoints(5)), 5)
    assert fit.qwk_default == pytest.approx(rounded)
    assert fit.qwk_tuned > rounded + 0.05
    tuned = quadratic_kappa(y, apply_cut_points(scores, fit.cut_points), 5)
    assert fit.qwk_tuned == pytest.approx(tuned)
    assert all(0.6 * k < c < 0.6 * (k + 1) for k, c in enumerate(fit.cut_points))


def test_coordinate_search_finds_the_grid_optimum_on_a_small_case() -> None:
    rng = np.random.default_rng(2)
    y = rng.choice(3, 40, p=[0.5, 0.3, 0.2])
    scores = np.round(y + rng.normal(0, 0.7, y.size), 1)
    grid = np.unique(scores) - 0.05  # every distinct pair of cuts, as a brute force
    best = max(
        quadratic_kappa(y, apply_cut_points(scores, (a, b)), 3)
        for a, b in itertools.combinations(grid, 2)
    )
    assert tune_cut_points(y, scores, 3).qwk_tuned == pytest.approx(best)


def test_tuning_is_deterministic_and_strictly_increasing() -> None:
    y, scores = _separable(shift=-0.7, seed=3)
    scores[::7] = scores[::7].round()  # ties, and scores lying on the starting cut points
    a, b = tune_cut_points(y, scores, 5), tune_cut_points(y.copy(), scores.copy(), 5)
    assert a == b
    assert np.all(np.diff(a.cut_points) > 0)


def test_constant_scores_keep_increasing_cut_points() -> None:
    fit = tune_cut_points(np.array([0, 1, 2, 2]), np.full(4, 1.0), 3)
    assert np.all(np.diff(fit.cut_points) > 0)
    assert fit.qwk_tuned == 0.0


def test_parse_user_thresholds() -> None:
    assert parse_cut_points("0.7, 1.4,2.6,3.3", 5) == (0.7, 1.4, 2.6, 3.3)
    assert parse_cut_points("0.5", 2) == (0.5,)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("0.5,1.5,2.5", r"need 4 numbers for 5 classes .* got 3"),
        ("0.5,1.5,2.5,3.5,4.5", r"need 4 numbers .* got 5"),
        ("0.5,2.5,1.5,3.5", r"strictly increasing"),
        ("0.5,1.5,1.5,3.5", r"strictly increasing"),
        ("0.5,1.5,nan,3.5", r"finite"),
        ("0.5,1.5,two,3.5", r"numbers separated by commas"),
        ("", r"numbers separated by commas"),
    ],
)
def test_bad_user_thresholds_are_one_line_errors(text: str, message: str) -> None:
    with pytest.raises(UserError, match=message) as err:
        parse_cut_points(text, 5)
    assert "\n" not in str(err.value)


def test_check_cut_points_refuses_stored_values_that_do_not_fit() -> None:
    with pytest.raises(UserError, match="need 2 numbers for 3 classes"):
        check_cut_points((0.5, 1.5, 2.5), 3)
