"""Heads, cut points, operating points and intervals through the commands, end to end: each head
trains (one epoch, 32 px, on the session's sample set), its run keeps what it chose on
validation, ``evaluate`` reproduces it, ``--thresholds`` overrides it, and bad input is one
line that writes nothing."""

from __future__ import annotations

import itertools
import json
import shutil
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import pytest

from retinopathy.__main__ import main
from retinopathy.data import synthetic
from retinopathy.grading import CHECKPOINT_KEY, DEFAULT_REFERRAL, GIVEN_NOW, THRESHOLDS_JSON, TUNED
from retinopathy.thresholds import apply_cut_points
from shared.checkpoint import load_checkpoint, save_checkpoint
from tests.helpers import photo
from tests.retinopathy.conftest import train_args

CI_KEYS = {"qwk", "accuracy", "macro_f1", "auc", "sensitivity", "specificity"}
POINTS = {"high_specificity", "high_sensitivity"}
BOOTSTRAP = "200"


def _train(cache: Path, run: Path, *extra: str) -> Path:
    args = train_args(cache, run)
    args[args.index("--epochs") + 1] = "1"
    assert main([*args, "--bootstrap", BOOTSTRAP, *extra]) == 0
    return run


@pytest.fixture(scope="module")
def head_runs(trained, tmp_path_factory) -> dict[str, Path]:
    """One run per scored head, and a referable run, next to the session's classify run."""
    classify, cache = trained
    base = tmp_path_factory.mktemp("heads")
    runs = {"classify": classify}
    runs["regress"] = _train(cache, base / "regress", "--head", "regress")
    runs["ordinal"] = _train(cache, base / "ordinal", "--head", "ordinal")
    runs["referable"] = _train(cache, base / "referable", "--task", "referable")
    return runs


def _metrics(run: Path) -> dict:
    return json.loads((run / "test_metrics.json").read_text())


@pytest.mark.parametrize("head", ["regress", "ordinal"])
def test_a_scored_head_keeps_its_tuned_cut_points_and_reports_them(head_runs, head) -> None:
    run = head_runs[head]
    config = json.loads((run / "config.json").read_text())
    assert config["head"] == head and config["loss"] == {"regress": "mse", "ordinal": "bce"}[head]
    stored = json.loads((run / THRESHOLDS_JSON).read_text())
    cuts = stored["cut_points"]
    assert stored["head"] == head and stored["cut_points_source"] == TUNED
    assert len(cuts) == 4 and all(a < b for a, b in itertools.pairwise(cuts))
    assert stored["tuned"]["qwk_tuned"] >= stored["tuned"]["qwk_default"]
    table = pd.read_csv(run / "test_predictions.csv")
    assert list(table.columns[:5]) == ["id", "true", "grade", "class", "score"]
    assert (table["grade"] == apply_cut_points(table["score"].to_numpy(), cuts)).all()
    report = (run / "report.md").read_text()
    assert "## Cut points between grades" in report
    assert "- QWK before tuning (cut points 0.5, 1.5, 2.5, 3.5): validation" in report
    assert "- QWK after tuning (cut points" in report
    rows = _metrics(run)["cut_points"]["rows"]
    assert rows["tuned"]["val_qwk"] >= rows["midpoints"]["val_qwk"]


@pytest.mark.parametrize("head", ["classify", "regress", "ordinal", "referable"])
def test_every_run_has_intervals_operating_points_and_the_baseline(head_runs, head) -> None:
    run = head_runs[head]
    results = _metrics(run)
    assert set(results["operating_points"]) == POINTS
    primary = results["operating_points"]["high_specificity"]
    assert set(results["ci95"]) == CI_KEYS
    points = {**results["test"], "sensitivity": primary["sensitivity"],
              "specificity": primary["specificity"]}  # fmt: skip
    for key, (lo, hi) in results["ci95"].items():
        assert lo - 1e-9 <= points[key] <= hi + 1e-9, key
    for point in results["operating_points"].values():
        for key in ("sensitivity", "specificity"):
            lo, hi = point["ci95"][key]
            assert lo - 1e-9 <= point[key] <= hi + 1e-9
    report = (run / "report.md").read_text()
    assert "| always the majority grade (0" in report and "| this model |" in report
    assert "## Screening operating points" in report and "| high sensitivity" in report
    assert (run / "plots" / "roc.png").stat().st_size > 0
    if head == "classify":
        assert "## Cut points between grades" not in report
        assert json.loads((run / THRESHOLDS_JSON).read_text())["cut_points"] is None


def test_the_referable_task_refers_at_the_high_specificity_point(head_runs) -> None:
    run = head_runs["referable"]
    results = _metrics(run)
    point = results["operating_points"]["high_specificity"]
    assert results["test"]["threshold"] == point["threshold"] != DEFAULT_REFERRAL
    assert results["test"]["sensitivity"] == point["sensitivity"]
    assert results["ci95"]["sensitivity"] == point["ci95"]["sensitivity"]
    table = pd.read_csv(run / "test_predictions.csv")
    referred = table["p_1"] >= point["threshold"]
    # the CSV rounds to 5 decimals: the grade is exact wherever rounding cannot tell
    clear = (table["p_1"] - point["threshold"]).abs() > 1e-5
    assert (table["grade"][clear] == referred[clear].astype(int)).all()


@pytest.mark.parametrize("head", ["regress", "ordinal"])
def test_evaluate_again_reproduces_every_number(head_runs, head, capsys) -> None:
    run = head_runs[head]
    before, stored = _metrics(run), (run / THRESHOLDS_JSON).read_text()
    assert main(["evaluate", "--run-dir", str(run), "--bootstrap", BOOTSTRAP]) == 0
    assert _metrics(run) == before and (run / THRESHOLDS_JSON).read_text() == stored
    assert "cut points" in capsys.readouterr().out


def test_evaluate_uses_the_stored_cut_points_and_thresholds_overrides_them(
    head_runs, tmp_path: Path
) -> None:
    run = Path(shutil.copytree(head_runs["regress"], tmp_path / "run"))
    best = run / "checkpoints" / "best.pt"
    state = load_checkpoint(best)
    mine = [0.1, 0.2, 0.3, 0.4]
    state[CHECKPOINT_KEY]["cut_points"] = mine  # the run's own, where evaluate reads them
    save_checkpoint(best, state)
    assert main(["evaluate", "--run-dir", str(run), "--bootstrap", "20"]) == 0
    table = pd.read_csv(run / "test_predictions.csv")
    assert (table["grade"] == apply_cut_points(table["score"].to_numpy(), mine)).all()
    given = "-0.2,0.05,0.15,0.5"
    assert main(["evaluate", "--run-dir", str(run), f"--thresholds={given}"]) == 0
    table = pd.read_csv(run / "test_predictions.csv")
    cuts = [float(v) for v in given.split(",")]
    assert (table["grade"] == apply_cut_points(table["score"].to_numpy(), cuts)).all()
    results = _metrics(run)
    assert results["grading"]["cut_points_source"] == GIVEN_NOW
    assert load_checkpoint(best)[CHECKPOINT_KEY]["cut_points"] == mine  # kept


def test_predict_grades_with_the_runs_cut_points_unless_told(head_runs, trained, tmp_path):
    run, (_, cache) = head_runs["ordinal"], trained
    folder = synthetic.default_root(400, size=128, cache_dir=cache) / "train"
    out, over = tmp_path / "own.csv", tmp_path / "given.csv"
    assert main(["predict", "--run-dir", str(run), str(folder), "--out", str(out)]) == 0
    given = "0.9,1.0,1.1,1.2"
    argv = ["predict", "--run-dir", str(run), str(folder), "--out", str(over)]
    assert main([*argv, "--thresholds", given]) == 0
    own, other = pd.read_csv(out), pd.read_csv(over)
    cuts = json.loads((run / THRESHOLDS_JSON).read_text())["cut_points"]
    scores = own["score"].to_numpy()
    clear = np.min(np.abs(scores[:, None] - np.array([*cuts, 0.9, 1.0, 1.1, 1.2])), 1) > 1e-5
    assert (own["grade"][clear] == apply_cut_points(scores, cuts)[clear]).all()
    expect = apply_cut_points(scores, [float(v) for v in given.split(",")])
    assert (other["grade"][clear] == expect[clear]).all()
    assert not (own["grade"] == other["grade"]).all()


def test_predict_on_the_real_retina_photo_gives_a_score(head_runs, tmp_path: Path) -> None:
    image = tmp_path / "retina.jpg"
    cv2.imwrite(str(image), cv2.cvtColor(photo("retina"), cv2.COLOR_RGB2BGR))
    out = tmp_path / "grades.csv"
    assert (
        main(["predict", "--run-dir", str(head_runs["regress"]), str(image), "--out", str(out)])
        == 0
    )
    df = pd.read_csv(out)
    assert list(df.columns[:4]) == ["id", "grade", "class", "score"] and len(df) == 1


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--thresholds", "1,2,3"], "thresholds need 4 numbers for 5 classes"),
        (["--thresholds", "1,3,2,4"], "strictly increasing"),
        (["--thresholds", "a,b,c,d"], "numbers separated by commas"),
        (["--spec-target", "1.5"], "--spec-target must be a rate in (0, 1]"),
        (["--bootstrap", "0"], "--bootstrap must be a whole number of resamples >= 1"),
    ],
)
def test_bad_evaluate_choices_are_one_line_and_rewrite_nothing(head_runs, capsys, argv, message):
    run = head_runs["regress"]
    before = {p.name: p.stat().st_mtime_ns for p in run.iterdir() if p.is_file()}
    assert main(["evaluate", "--run-dir", str(run), *argv]) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1
    assert {p.name: p.stat().st_mtime_ns for p in run.iterdir() if p.is_file()} == before


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--head", "regress", "--loss", "focal"], "the regress head trains with loss mse or"),
        (["--task", "referable", "--thresholds", "0.5"], "the referable task refers at its"),
        (["--head", "ordinal", "--thresholds", "1,2"], "thresholds need 4 numbers"),
        (["--sens-target", "0"], "--sens-target must be a rate"),
    ],
)
def test_bad_training_choices_are_one_line_and_create_nothing(tmp_path, capsys, argv, message):
    run = tmp_path / "run"
    base = ["train", "--run-dir", str(run), "--cache", str(tmp_path / "cache")]
    assert main([*base, *argv]) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1
    assert list(tmp_path.iterdir()) == []


def test_a_checkpoint_of_another_head_is_one_line(head_runs, tmp_path: Path, capsys) -> None:
    run = Path(shutil.copytree(head_runs["regress"], tmp_path / "run"))
    config = json.loads((run / "config.json").read_text())
    (run / "config.json").write_text(json.dumps({**config, "head": "ordinal", "loss": None}))
    report = (run / "report.md").read_text()
    assert main(["evaluate", "--run-dir", str(run)]) == 2
    err = capsys.readouterr().err.strip()
    assert "does not fit" in err and "ordinal head" in err and len(err.splitlines()) == 1
    assert (run / "report.md").read_text() == report


@pytest.mark.parametrize("head", ["regress", "ordinal"])
def test_a_scored_head_is_explained_by_its_score(head_runs, head, tmp_path: Path) -> None:
    run = head_runs[head]
    text = (run / "report.md").read_text()
    assert "![explain gallery](plots/explain_gallery.png)" in text
    # the ordinal head wraps the backbone: the map is still its last convolutional stage's
    assert "`backbone.layer4`" in text if head == "ordinal" else "`layer4`" in text
    image = tmp_path / "retina.jpg"
    cv2.imwrite(str(image), cv2.cvtColor(photo("retina"), cv2.COLOR_RGB2BGR))
    out = tmp_path / "grades.csv"
    argv = ["predict", "--run-dir", str(run), str(image), "--out", str(out), "--explain"]
    assert main(argv) == 0
    overlay = cv2.imread(str(tmp_path / pd.read_csv(out)["explain"][0]))
    assert overlay.shape[:2] == photo("retina").shape[:2]
