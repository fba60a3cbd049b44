"""The retinopathy app end to end on a tiny synthetic set: train, evaluate, predict, resume.

One small run (ResNet-18 at 32 px, 2 epochs) is trained once per session and shared.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import cv2
import pandas as pd
import pytest
import torch

from retinopathy.__main__ import main
from shared.checkpoint import load_checkpoint
from tests.helpers import photo

ROOT = Path(__file__).parents[2]


def _train_args(cache: Path, run: Path) -> list[str]:
    return [
        "train", "--arch", "resnet18", "--epochs", "2", "--image-size", "32",
        "--synthetic-images", "400", "--synthetic-size", "128", "--batch-size", "32",
        "--pretrained", "no", "--cache", str(cache), "--workers", "2", "--run", str(run),
    ]  # fmt: skip


@pytest.fixture(scope="session")
def trained(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    base = tmp_path_factory.mktemp("dr-app")
    cache, run = base / "cache", base / "run"
    assert main(_train_args(cache, run)) == 0
    return run, cache


def test_run_folder_holds_every_artefact(trained) -> None:
    run, _ = trained
    for name in ("config.json", "split.csv", "metrics.csv", "report.md", "test_predictions.csv",
                 "test_metrics.json", "checkpoints/best.pt", "checkpoints/last.pt",
                 "plots/curves.png", "plots/confusion.png", "plots/confusion_normalised.png",
                 "plots/per_class.png", "plots/roc.png"):  # fmt: skip
        assert (run / name).stat().st_size > 0, name
    metrics = pd.read_csv(run / "metrics.csv")
    assert list(metrics["epoch"]) == [1, 2]
    assert {"train_loss", "train_acc", "val_loss", "val_qwk", "val_f1", "val_acc"} <= set(metrics)
    report = (run / "report.md").read_text()
    assert "| class | precision | recall | F1 |" in report
    assert "true \\ predicted" in report
    summary = json.loads((run / "test_metrics.json").read_text())["summary"]
    assert 0 <= summary["test_accuracy"] <= 1 and -1 <= summary["test_qwk"] <= 1
    # both eyes of each patient sit on one side of the split
    split = pd.read_csv(run / "split.csv")
    assert (split.groupby("patient")["split"].nunique() == 1).all()


def test_evaluate_again_reproduces_the_test_metrics(trained, capsys) -> None:
    run, _ = trained
    before = json.loads((run / "test_metrics.json").read_text())["summary"]
    assert main(["evaluate", "--run", str(run)]) == 0
    after = json.loads((run / "test_metrics.json").read_text())["summary"]
    assert after == pytest.approx(before)
    assert "QWK" in capsys.readouterr().out


def test_predict_grades_the_real_retina_photo(trained, tmp_path: Path) -> None:
    run, _ = trained
    image = tmp_path / "retina.jpg"
    cv2.imwrite(str(image), cv2.cvtColor(photo("retina"), cv2.COLOR_RGB2BGR))
    out = tmp_path / "grades.csv"
    assert main(["predict", "--run", str(run), str(image), "--out", str(out), "--tta"]) == 0
    df = pd.read_csv(out)
    assert list(df["id"]) == ["retina"]
    probs = df[[f"p_{k}" for k in range(5)]].to_numpy()
    assert probs.sum() == pytest.approx(1.0, abs=1e-3)
    assert df["grade"][0] == probs.argmax()


def test_predict_folder_skips_and_lists_unreadable_files(trained, tmp_path: Path, capsys) -> None:
    run, _ = trained
    folder = tmp_path / "photos"
    folder.mkdir()
    rgb = cv2.cvtColor(photo("retina"), cv2.COLOR_RGB2BGR)
    cv2.imwrite(str(folder / "7_left.jpeg"), rgb)
    cv2.imwrite(str(folder / "7_right.jpeg"), cv2.flip(rgb, 1))
    (folder / "broken.jpeg").write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    out = tmp_path / "grades.csv"
    code = main(["predict", "--run", str(run), str(folder), "--out", str(out), "--fuse-eyes"])
    assert code == 0
    assert sorted(pd.read_csv(out)["id"]) == ["7_left", "7_right"]
    printed = capsys.readouterr().out
    assert "1 unreadable" in printed and "broken.jpeg" in printed


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["train", "--arch", "resnet19"], "resnet18"),  # lists the valid names
        (["evaluate", "--run", "{tmp}"], "not a run folder"),
        (["predict", "--run", "{run}", "{tmp}/missing.jpg"], "does not exist"),
        (["predict", "--run", "{run}", "{tmp}/bad.jpg"], "cannot read"),
    ],
)
def test_bad_input_is_one_line_and_writes_nothing(trained, tmp_path, capsys, argv, message):
    run, _ = trained
    (tmp_path / "bad.jpg").write_bytes(b"")
    before = sorted(p.name for p in tmp_path.iterdir())
    argv = [a.format(tmp=tmp_path, run=run) for a in argv]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == before


def test_task_and_checkpoint_class_counts_must_agree(trained) -> None:
    from retinopathy.models import load_run_model
    from shared.errors import UserError

    run, _ = trained
    with pytest.raises(UserError, match="5 classes"):
        load_run_model(run, num_classes=3)


def test_killed_run_resumes_to_the_same_test_metrics(trained, tmp_path: Path) -> None:
    reference, cache = trained
    run = tmp_path / "killed"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    cmd = [sys.executable, "-m", "retinopathy", *_train_args(cache, run)]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    last = run / "checkpoints" / "last.pt"
    deadline = time.time() + 120
    while not last.exists() and proc.poll() is None and time.time() < deadline:
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    assert proc.wait() == -signal.SIGKILL, "the run ended before it could be killed"
    assert not (run / "report.md").exists()
    assert main(["train", "--resume", str(run)]) == 0
    expect = json.loads((reference / "test_metrics.json").read_text())["summary"]
    got = json.loads((run / "test_metrics.json").read_text())["summary"]
    assert got == expect
    a = load_checkpoint(reference / "checkpoints" / "last.pt")["model"]
    b = load_checkpoint(run / "checkpoints" / "last.pt")["model"]
    assert all(torch.equal(a[k], b[k]) for k in a)
