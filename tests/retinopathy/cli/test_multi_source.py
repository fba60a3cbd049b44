"""``train a,b``: one model on two datasets' union, each split on its own, metrics by dataset."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from retinopathy.__main__ import main
from retinopathy.cli import train as train_cli
from retinopathy.data.sources import read_records
from retinopathy.data.splits import make_split
from retinopathy.data.synthetic import generate
from retinopathy.tasks import get_task

N_EACH = 60


@pytest.fixture(scope="module")
def pooled_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[Path]]:
    """(run folder, the two datasets) of one epoch at 32 px on two drawn sets of 60 photos."""
    base = tmp_path_factory.mktemp("pooled")
    sets = [
        generate(base / name, n_images=N_EACH, seed=seed, size=96, workers=1, progress=False)
        for name, seed in (("clinic-a", 3), ("clinic-b", 4))
    ]
    run = base / "run"
    args = [
        "train", f"{sets[0]},{sets[1]}", "--task", "referable", "--arch", "resnet18",
        "--epochs", "1", "--image-size", "32", "--batch-size", "32", "--pretrained", "no",
        "--cache", str(base / "cache"), "--workers", "2", "--run-dir", str(run), "--keep-last",
        "--precision", "fp32", "--bootstrap", "50",
    ]  # fmt: skip
    assert main(args) == 0
    return run, sets


def test_each_dataset_is_split_on_its_own_and_reported(pooled_run) -> None:
    run, sets = pooled_run
    config = json.loads((run / "config.json").read_text())
    assert config["data"] == f"{sets[0]},{sets[1]}"
    assert [(s["name"], s["data"], s["format"], s["photos"]) for s in config["sources"]] == [
        ("clinic-a", str(sets[0]), "eyepacs", N_EACH),
        ("clinic-b", str(sets[1]), "eyepacs", N_EACH),
    ]
    split = pd.read_csv(run / "split.csv", dtype=str)
    for name, data in zip(("clinic-a", "clinic-b"), sets, strict=True):
        alone = make_split(read_records(data), seed=0, task=get_task("referable"))
        mine = split[split["source"] == name]
        assert sorted(mine["id"]) == sorted(f"{name}/{i}" for i in alone["id"])
        for side in ("train", "val", "test"):  # the split it gets alone, by patient
            expected = {f"{name}/{i}" for i in alone.loc[alone["split"] == side, "id"]}
            assert set(mine.loc[mine["split"] == side, "id"]) == expected
    metrics = json.loads((run / "test_metrics.json").read_text())
    by_source = metrics["per_source"]
    assert list(by_source) == ["clinic-a", "clinic-b"]
    tested = split[split["split"] == "test"]
    assert [m["n"] for m in by_source.values()] == [
        int((tested["source"] == n).sum()) for n in by_source
    ]
    assert sum(m["n"] for m in by_source.values()) == sum(metrics["test"]["support"])
    assert all({"accuracy", "qwk", "macro_f1"} <= set(m) for m in by_source.values())
    report = (run / "report.md").read_text()
    assert "## Test set by dataset" in report and "| clinic-b |" in report
    assert config["trained_on"] == {"format": "eyepacs + eyepacs", "photos": 2 * N_EACH}
    assert "trained on clinic-a + clinic-b (eyepacs + eyepacs format, " in report


def test_evaluate_again_gives_the_same_numbers_by_dataset(pooled_run, capsys) -> None:
    run, _ = pooled_run
    before = json.loads((run / "test_metrics.json").read_text())["per_source"]
    assert main(["evaluate", "--run-dir", str(run)]) == 0
    assert json.loads((run / "test_metrics.json").read_text())["per_source"] == before
    assert "test clinic-a:" in capsys.readouterr().out


def test_repeated_data_flags_name_the_same_union(monkeypatch, tmp_path: Path) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    seen = []
    monkeypatch.setattr(train_cli, "train", lambda config, run: seen.append(config.data.data))
    assert main(["train", str(a), "--data", str(b), "--pretrained", "no"]) == 0
    assert main(["train", f"{a},{b}", "--pretrained", "no"]) == 0
    assert seen == [f"{a},{b}"] * 2


def test_a_resume_continues_on_the_same_union(pooled_run) -> None:
    run, _ = pooled_run
    split = (run / "split.csv").read_text()
    assert main(["train", "--resume", str(run), "--epochs", "2"]) == 0
    assert (run / "split.csv").read_text() == split
    metrics = json.loads((run / "test_metrics.json").read_text())
    assert sum(m["n"] for m in metrics["per_source"].values()) == sum(metrics["test"]["support"])


def test_a_dataset_that_cannot_be_split_is_named_and_nothing_is_made(
    tmp_path: Path, capsys
) -> None:
    big = generate(tmp_path / "big", n_images=N_EACH, seed=3, size=96, workers=1, progress=False)
    tiny = generate(tmp_path / "tiny", n_images=4, seed=6, size=96, workers=1, progress=False)
    run = tmp_path / "run"
    cache = str(tmp_path / "cache")
    args = [
        "train", f"{big},{tiny}", "--task", "referable", "--image-size", "32",
        "--pretrained", "no", "--cache", cache, "--workers", "1", "--run-dir", str(run),
    ]  # fmt: skip
    assert main(args) == 2
    errors = [line for line in capsys.readouterr().err.splitlines() if ": error: " in line]
    assert len(errors) == 1 and "error: dataset tiny: " in errors[0], errors
    assert not run.exists()
