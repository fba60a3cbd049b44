"""The commands under ``torchrun``, 2 gloo processes, end to end: the README's own DDP commands,
one run folder, and the same files as one process writes.

torchrun is ``python -m torch.distributed.run``, started here by this interpreter on a free port.
The single process it is compared with is this one, with the ranks' one thread: the README's
ResNet-50 is swapped for a ResNet-18, as its photo count and size are for tiny ones.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pandas as pd
import pytest

from retinopathy.__main__ import main
from retinopathy.data import synthetic
from shared.runs import MetricsLog, RunPaths
from tests.helpers import readme_torchrun_commands, torchrun

RUN_FILES = ("config.json", "split.csv", "metrics.csv", "test_metrics.json", "report.md")
EVALUATION = ("test_predictions.csv", "test_metrics.json")


def tiny_training(cache: Path) -> list[str]:
    """Settings for a run of seconds (the sample set's five grades need more photos: referable)."""
    return [
        "--arch", "resnet18", "--epochs", "1", "--image-size", "32", "--synthetic-images", "48",
        "--synthetic-size",
        "96", "--batch-size", "8", "--pretrained", "no", "--task", "referable",
        "--cache", str(cache), "--workers", "1",
    ]  # fmt: skip


def assert_one_complete_run(runs: Path, done: subprocess.CompletedProcess) -> Path:
    (run,) = runs.iterdir()  # one folder, not one per rank
    assert all((run / name).is_file() for name in RUN_FILES)
    # the kept model stays; the finished run's training state is removed (no --keep-last)
    assert RunPaths(run).best.is_file() and not RunPaths(run).last.exists()
    assert [row["epoch"] for row in MetricsLog(RunPaths(run).metrics).rows()] == [1]
    assert done.stdout.count("report: ") == 1  # the summary, printed by rank 0 alone
    return run


def new_photos(folder: Path, sample_set: Path) -> Path:
    """Six of the sample set's photos (three patients' two eyes) and a damaged file."""
    folder.mkdir()
    for path in sorted(sample_set.glob("train/*.jpeg"))[:6]:
        shutil.copy(path, folder / path.name)
    (folder / "damaged.jpeg").write_bytes(b"\xff\xd8\xff\xe0 not a photo")
    return folder


@pytest.mark.slow
def test_the_readme_ddp_commands_train_one_run_and_predict_as_one_process(
    tmp_path: Path, monkeypatch
):
    commands = readme_torchrun_commands("retinopathy")
    assert set(commands) == {"train", "predict"}
    assert "--run-dir" in commands["train"] and "--run-dir" in commands["predict"]
    cache = tmp_path / "cache"
    done = torchrun([*commands["train"], *tiny_training(cache)], tmp_path)
    run = assert_one_complete_run(tmp_path / "runs" / "retinopathy", done)
    assert run == tmp_path / "runs" / "retinopathy" / "ddp"

    (sample_set,) = cache.glob("synthetic-*")
    new_photos(tmp_path / commands["predict"][-1], sample_set)
    done = torchrun([*commands["predict"], "--batch-size", "2", "--tta"], tmp_path)
    assert done.stdout.count("6 photos graded") == 1 and "damaged.jpeg" in done.stdout
    (sharded,) = (run / "predictions").glob("*.csv")
    predict = commands["predict"]
    argv = [*predict[predict.index("retinopathy") + 1 :], "--batch-size", "2", "--tta"]
    monkeypatch.chdir(tmp_path)  # the README's paths are relative
    assert main([*argv, "--out", "one.csv", "--threads", "1"]) == 0
    assert sharded.read_bytes() == (tmp_path / "one.csv").read_bytes()
    assert len(sharded.read_text().splitlines()) == 1 + 6


@pytest.mark.slow
def test_train_without_a_run_folder_makes_one_evaluated_over_the_whole_test_set(tmp_path: Path):
    argv = [".venv/bin/torchrun", "--nproc_per_node", "2", "-m", "retinopathy", "train",
            *tiny_training(tmp_path / "cache")]  # fmt: skip
    run = assert_one_complete_run(tmp_path / "runs" / "retinopathy", torchrun(argv, tmp_path))
    written = {name: (run / name).read_bytes() for name in EVALUATION}
    split = pd.read_csv(run / "split.csv")
    test = pd.read_csv(run / "test_predictions.csv")
    assert list(test["id"]) == list(split.loc[split["split"] == "test", "id"])  # every test photo
    metrics = json.loads(written["test_metrics.json"])["test"]
    assert sum(map(sum, metrics["confusion"])) == len(test)
    assert main(["evaluate", "--run-dir", str(run)]) == 0  # at the run's recorded one thread
    assert {name: (run / name).read_bytes() for name in EVALUATION} == written


def _tree(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


@pytest.mark.slow
def test_prepare_under_torchrun_leaves_the_cache_one_process_leaves(tmp_path: Path, capsys):
    data = synthetic.generate(tmp_path / "data", n_images=11, size=96, progress=False)
    min(data.glob("train/*.jpeg")).write_bytes(b"damaged")  # one rejected photo, listed
    argv = ["prepare", str(data), "--size", "32", "--workers", "1", "--cache"]
    done = torchrun([".venv/bin/torchrun", "--nproc_per_node", "2", "-m", "retinopathy",
                     *argv, str(tmp_path / "sharded")], tmp_path)  # fmt: skip
    assert done.stdout.count("10 photos ready at 32 px (crop): 11 preprocessed") == 1
    assert main([*argv, str(tmp_path / "single")]) == 0  # preprocessing has no threads to vary
    sharded, single = _tree(tmp_path / "sharded"), _tree(tmp_path / "single")
    assert sharded == single
    assert sum(name.endswith(".npy") for name in sharded) == 10
    (problems,) = (text for name, text in sharded.items() if name.endswith("problems.csv"))
    assert problems.count(b",rejected,") == 1
    journals = [name for name in sharded if "journal" in name]
    assert len(journals) == 1 and journals[0].endswith("/journal.jsonl")  # the ranks' merged
