"""How a run grades, without a model: cut points, the referable task's operating point, the
classify head's argmax; thresholds.json round trip; the defaults of a run never evaluated; the
heads and grading choices in the run's config."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest

from retinopathy.config import RunConfig
from retinopathy.fusion import choose_alpha
from retinopathy.grading import (
    CHECKPOINT_KEY,
    DEFAULT_REFERRAL,
    MIDPOINTS,
    TUNED,
    Grading,
    Outputs,
    choose_grading,
    read_grading,
    stored_grading,
    write_grading,
)
from retinopathy.operating_points import OperatingPoint
from retinopathy.tasks import get_task
from retinopathy.thresholds import CutPointFit

GRADE5, REFERABLE = get_task("grade5"), get_task("referable")


def _point(threshold: float) -> OperatingPoint:
    return OperatingPoint("high_specificity", 0.98, threshold, 0.9, 0.98, False)


def test_each_way_of_grading() -> None:
    probs = np.array([[0.7, 0.3], [0.45, 0.55], [0.1, 0.9]])
    referable = Grading(REFERABLE, "classify", points={"high_specificity": _point(0.8)})
    assert referable.grades(probs, None).tolist() == [0, 0, 1]  # not 0.5: the point's 0.8
    assert Grading(REFERABLE, "classify").referral_threshold == DEFAULT_REFERRAL
    five = np.eye(5)[[0, 3, 4]]
    scores = np.array([0.2, 1.6, 3.9])
    assert Grading(GRADE5, "classify").grades(five, scores).tolist() == [0, 3, 4]  # argmax
    cut = Grading(GRADE5, "regress", cut_points=(0.1, 1.0, 2.0, 3.0))
    assert cut.grades(five, scores).tolist() == [1, 2, 4]  # the score, not the probabilities


def test_choose_grading_tunes_scored_heads_only_and_keeps_given_cut_points() -> None:
    labels = np.array([0] * 6 + [1] * 2 + [2] * 2 + [3] * 2 + [4] * 2)
    scores = labels * 0.5  # a regression squeezed towards 0: the midpoints miss every grade > 1
    probs = np.eye(5)[labels]
    val = Outputs(probs, scores, labels)
    tuned = choose_grading(GRADE5, "regress", val, spec_target=0.98, sens_target=0.975)
    assert tuned.cut_source == TUNED and tuned.tuned.qwk_tuned == pytest.approx(1.0)
    assert tuned.grades(probs, scores).tolist() == labels.tolist()
    given = choose_grading(GRADE5, "ordinal", val, spec_target=0.98, sens_target=0.975,
                           given=[0.5, 1.5, 2.5, 3.5])  # fmt: skip
    assert given.cut_points == (0.5, 1.5, 2.5, 3.5) and given.tuned is not None
    plain = choose_grading(GRADE5, "classify", val, spec_target=0.98, sens_target=0.975)
    assert plain.cut_points is None and plain.tuned is None
    assert set(plain.points) == {"high_specificity", "high_sensitivity"}


def test_thresholds_json_round_trip(tmp_path: Path) -> None:
    grading = Grading(
        GRADE5, "ordinal", (0.25, 1.1, 2.3, 3.05), TUNED,
        CutPointFit((0.25, 1.1, 2.3, 3.05), 0.5, 0.625), {"high_specificity": _point(0.125)},
    )  # fmt: skip
    write_grading(tmp_path, grading)
    assert read_grading(tmp_path, GRADE5) == grading
    assert read_grading(tmp_path / "elsewhere", GRADE5) is None


def test_a_run_never_evaluated_grades_at_the_defaults() -> None:
    state = {"model": {}}  # a kept checkpoint's state that holds no grading
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert stored_grading(state, GRADE5, "classify", None) == Grading(GRADE5, "classify")
    with pytest.warns(UserWarning, match="best.pt holds no grading"):
        regress = stored_grading(state, GRADE5, "regress", None, "best.pt")
    assert regress.cut_points == (0.5, 1.5, 2.5, 3.5) and regress.cut_source == MIDPOINTS
    with pytest.warns(UserWarning, match="refers at 0.5"):
        assert stored_grading(state, REFERABLE, "classify", None).referral_threshold == 0.5


def test_the_grading_a_checkpoint_holds_is_the_one_used() -> None:
    grading = Grading(GRADE5, "regress", (0.4, 1.6, 2.4, 3.6), TUNED)
    state = {"model": {}, CHECKPOINT_KEY: grading.to_json()}
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no warning: nothing is left to the defaults
        assert stored_grading(state, GRADE5, "regress", None) == grading


def test_fusion_chooses_its_weight_with_the_runs_grading() -> None:
    labels = np.array([0, 0, 2, 2])
    patients = ["a", "a", "b", "b"]
    scores = np.array([0.2, 0.9, 2.2, 1.4])  # one eye of each patient across a cut
    probs = np.full((4, 5), 0.2)
    cut = Grading(GRADE5, "regress", cut_points=(0.5, 1.5, 2.5, 3.5))
    assert choose_alpha(probs, labels, patients, GRADE5, grades=cut.grades, scores=scores) > 0


def test_the_config_records_the_head_and_older_runs_are_classify() -> None:
    assert (RunConfig().head, RunConfig().loss) == ("classify", "ce")
    regress = RunConfig.from_options(head="regress", thresholds="0.6,1.4,2.5,3.3")
    assert regress.loss == "mse" and regress.thresholds == [0.6, 1.4, 2.5, 3.3]
    record = regress.to_json()
    assert record["head"] == "regress" and RunConfig.from_json(record) == regress
    old = RunConfig().to_json()
    for key in ("head", "thresholds", "spec_target", "sens_target", "bootstrap"):
        old.pop(key)
    assert RunConfig.from_json(old) == RunConfig()
