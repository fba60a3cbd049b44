"""``evaluate --data``: a whole other dataset graded with the run, reported in RUN/external/."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd
import pytest

from retinopathy.__main__ import main
from retinopathy.data.pooled import dataset_name
from retinopathy.data.synthetic import default_root, generate

N_OTHER = 24


@pytest.fixture(scope="module")
def other(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A second labelled dataset (EyePACS layout), drawn with another seed: 24 photos."""
    root = tmp_path_factory.mktemp("datasets") / "other clinic (2)"
    return generate(root, n_images=N_OTHER, seed=7, size=96, workers=1, progress=False)


def test_another_dataset_gets_its_own_report(trained, other: Path, capsys) -> None:
    run, _ = trained
    own = (run / "test_metrics.json").read_text()
    assert main(["evaluate", "--run-dir", str(run), "--data", str(other)]) == 0
    folder = run / "external" / "other-clinic-2"
    assert (folder / "report.md").is_file()
    metrics = json.loads((folder / "metrics.json").read_text())
    labels = pd.read_csv(other / "trainLabels.csv")
    assert sum(metrics["test"]["support"]) == N_OTHER
    assert len(metrics["test"]["confusion"]) == 5 and len(metrics["test"]["confusion"][0]) == 5
    assert metrics["test"]["support"] == [int((labels["level"] == g).sum()) for g in range(5)]
    source = metrics["source"]
    assert source["photos"] == N_OTHER and source["format"] == "eyepacs"
    assert source["dataset"] == str(other) and source["run"] == str(run)
    assert source["checkpoint"].endswith("best.pt") and source["precision"] == "fp32"
    assert sum(source["grade_counts"].values()) == N_OTHER
    assert metrics["run_test"]["n"] == sum(json.loads(own)["test"]["support"])
    assert source["seen_in_training"] == 0
    assert set(metrics["ci95"]) >= {"qwk", "accuracy"}
    assert len(pd.read_csv(folder / "predictions.csv")) == N_OTHER
    text = (folder / "report.md").read_text()
    assert "the run's own test split" in text and str(other) in text
    assert "![confusion](plots/confusion.png)" in text
    assert (folder / "plots" / "confusion.png").is_file()
    assert (run / "test_metrics.json").read_text() == own  # the run's own numbers untouched
    assert "other-clinic-2" in capsys.readouterr().out


def test_a_rerun_replaces_the_folder_whole(trained, other: Path) -> None:
    run, _ = trained
    args = ["evaluate", "--run-dir", str(run), "--data", str(other), "--name", "again"]
    assert main(args) == 0
    folder = run / "external" / "again"
    (folder / "stray.txt").write_text("from the previous evaluation")
    first = json.loads((folder / "metrics.json").read_text())["test"]
    assert main(args) == 0
    assert not (folder / "stray.txt").exists()
    assert json.loads((folder / "metrics.json").read_text())["test"] == first
    assert not [p for p in (run / "external").iterdir() if p.name.startswith(".")]


@pytest.mark.parametrize("layout", ["csv", "folder"])
def test_grades_outside_the_scale_are_one_line_and_write_nothing(
    trained, other: Path, tmp_path: Path, capsys, layout: str
) -> None:
    run, _ = trained
    data = tmp_path / "graded-seven"
    photos = sorted((other / "train").glob("*.jpeg"))[:4]
    grades = (0, 2, 7, 1)
    for photo, grade in zip(photos, grades, strict=True):
        folder = data / str(grade) if layout == "folder" else data
        folder.mkdir(parents=True, exist_ok=True)
        shutil.copy(photo, folder / photo.name)
    if layout == "csv":
        rows = [f"{p.name},{g}" for p, g in zip(photos, grades, strict=True)]
        (data / "labels.csv").write_text("path,label\n" + "\n".join(rows) + "\n")
    assert main(["evaluate", "--run-dir", str(run), "--data", str(data)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert "outside 0-4" in err and "'7'" in err and "grade5" in err
    assert not (run / "external" / "graded-seven").exists()


def test_the_runs_own_photos_are_counted_and_warned_about(trained) -> None:
    run, cache = trained
    own = default_root(400, size=128, cache_dir=cache)  # the sample set the run was trained on
    split = pd.read_csv(run / "split.csv")
    with pytest.warns(UserWarning, match="trained or validated on"):
        assert main(["evaluate", "--run-dir", str(run), "--data", str(own), "--name", "own"]) == 0
    source = json.loads((run / "external" / "own" / "metrics.json").read_text())["source"]
    assert source["seen_in_training"] == int((split["split"] != "test").sum())
    assert source["photos"] == len(split)


def test_format_without_data_is_refused(trained, capsys) -> None:
    run, _ = trained
    assert main(["evaluate", "--run-dir", str(run), "--format", "aptos"]) == 2
    assert "--data" in capsys.readouterr().err


def test_the_folder_name_is_made_safe(tmp_path: Path) -> None:
    assert dataset_name("/data/APTOS 2019/") == "APTOS-2019"
    assert dataset_name("/data/../x/über set") == "ber-set"
    table = tmp_path / "messidor" / "labels.csv"
    table.parent.mkdir()
    table.write_text("path,label\n")
    assert dataset_name(table) == "messidor"  # a CSV: the folder holding it
