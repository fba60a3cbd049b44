"""``python -m retinopathy train``: the run folder it leaves, exact resume after SIGKILL, and
bad input (an unknown architecture, an absent device) as one line that leaves nothing behind."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
import torch
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from retinopathy.__main__ import main
from shared.checkpoint import load_checkpoint
from tests.retinopathy.conftest import train_args

ROOT = Path(__file__).parents[3]


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


def test_config_records_the_recipe_and_what_evaluation_needs(trained) -> None:
    run, cache = trained
    config = json.loads((run / "config.json").read_text())
    assert config["app"] == "retinopathy" and config["image_size"] == 32
    assert config["train"]["epochs"] == 2 and config["train"]["scheduler"] == "plateau"
    assert (config["train"]["monitor"], config["train"]["mode"]) == ("val_qwk", "max")
    prepared = Path(config["prepared"])
    assert prepared.is_relative_to(cache) and (prepared / "index.csv").is_file()
    assert len(config["mean"]) == len(config["std"]) == 3
    assert "config" not in load_checkpoint(run / "checkpoints" / "best.pt")  # config.json only


def test_killed_run_resumes_to_the_same_test_metrics(trained, tmp_path: Path) -> None:
    reference, cache = trained
    run = tmp_path / "killed"
    # Float reductions depend on the thread count: train with the reference's (earlier tests in
    # this process may have changed it from the default a fresh process gets).
    threads = load_checkpoint(reference / "checkpoints" / "last.pt")["threads"]
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": str(threads)}
    # --threads too: a fresh run would otherwise choose by the load of the moment
    cmd = [sys.executable, "-m", "retinopathy", *train_args(cache, run), "--threads", str(threads)]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    last = run / "checkpoints" / "last.pt"
    deadline = time.time() + 120
    while not last.exists() and proc.poll() is None and time.time() < deadline:
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    assert proc.wait() == -signal.SIGKILL, "the run ended before it could be killed"
    assert not (run / "report.md").exists()
    before = torch.get_num_threads()
    try:
        assert main(["train", "--resume", str(run)]) == 0  # takes the run's recorded threads
    finally:
        torch.set_num_threads(before)
    expect = json.loads((reference / "test_metrics.json").read_text())["summary"]
    got = json.loads((run / "test_metrics.json").read_text())["summary"]
    assert got == expect
    a = load_checkpoint(reference / "checkpoints" / "last.pt")["model"]
    b = load_checkpoint(run / "checkpoints" / "last.pt")["model"]
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_a_resume_with_more_epochs_equals_a_straight_run(trained, tmp_path: Path) -> None:
    reference, cache = trained  # two epochs
    run = tmp_path / "grown"
    threads = load_checkpoint(reference / "checkpoints" / "last.pt")["threads"]
    args = train_args(cache, run)
    args[args.index("--epochs") + 1] = "1"
    before = torch.get_num_threads()
    try:
        assert main([*args, "--threads", str(threads)]) == 0
        assert json.loads((run / "config.json").read_text())["train"]["epochs"] == 1
        assert main(["train", "--resume", str(run), "--epochs", "2"]) == 0
    finally:
        torch.set_num_threads(before)
    config = json.loads((run / "config.json").read_text())
    assert config["train"]["epochs"] == 2 and config["extended_from"] == [1]
    expect = pd.read_csv(reference / "metrics.csv").drop(columns="time")
    got = pd.read_csv(run / "metrics.csv").drop(columns="time")
    pd.testing.assert_frame_equal(got, expect)
    expect = json.loads((reference / "test_metrics.json").read_text())["summary"]
    assert json.loads((run / "test_metrics.json").read_text())["summary"] == expect


def test_the_usual_recipe_is_recorded_and_the_average_kept(trained, tmp_path: Path) -> None:
    _, cache = trained
    run = tmp_path / "recipe"
    args = train_args(cache, run)
    args[args.index("--epochs") + 1] = "1"
    recipe = ["--warmup-epochs", "0.5", "--ema", "0.9", "--label-smoothing", "0.1"]
    assert main([*args, *recipe, "--tensorboard"]) == 0
    config = json.loads((run / "config.json").read_text())
    assert (config["train"]["warmup_epochs"], config["train"]["ema"]) == (0.5, 0.9)
    assert config["label_smoothing"] == 0.1
    last = load_checkpoint(run / "checkpoints" / "last.pt")
    assert last["ema_updates"] == last["step"] > 0
    best = load_checkpoint(run / "checkpoints" / "best.pt")["model"]
    assert all(torch.equal(best[k], last["model"][k]) for k in best)  # the average is kept
    # TensorBoard's own reader parses the event files
    reader = EventAccumulator(str(run / "tensorboard"))
    reader.Reload()
    assert {"loss/train", "loss/val", "qwk/val", "lr"} <= set(reader.Tags()["scalars"])
    qwk = pd.read_csv(run / "metrics.csv")["val_qwk"].tolist()
    assert [e.value for e in reader.Scalars("qwk/val")] == pytest.approx(qwk, rel=1e-6)
    assert {"validation/confusion", "validation/photos"} <= set(reader.Tags()["images"])


def test_unknown_architecture_is_one_line_and_writes_nothing(tmp_path: Path, capsys) -> None:
    argv = [
        "train",
        "--arch",
        "resnet19",
        "--cache",
        str(tmp_path / "c"),
        "--run-dir",
        str(tmp_path / "r"),
    ]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert "resnet18" in err and len(err.splitlines()) == 1  # it lists the valid names
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("device", ["cuda", "mps"])
def test_absent_device_is_one_line_and_creates_nothing(
    tmp_path: Path, capsys, monkeypatch, device: str
) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)
    run = tmp_path / "R"
    argv = ["train", "--device", device, "--run-dir", str(run), "--cache", str(tmp_path / "cache")]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("retinopathy: error:") and device in err and len(err.splitlines()) == 1
    assert not run.exists() and list(tmp_path.iterdir()) == []  # no run folder, no cache


def test_absent_device_on_the_command_line(tmp_path: Path) -> None:
    """The acceptance check itself, where the machine has no CUDA device."""
    if torch.cuda.is_available():
        pytest.skip("this machine has a CUDA device")
    here, xdg = tmp_path / "here", tmp_path / "xdg"
    here.mkdir()
    env = {**os.environ, "PYTHONPATH": str(ROOT), "XDG_CACHE_HOME": str(xdg)}
    cmd = [sys.executable, "-m", "retinopathy", "train", "--device", "cuda", "--run-dir", "R"]
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, cwd=here, timeout=120)
    assert done.returncode == 2 and len(done.stderr.strip().splitlines()) == 1
    assert list(here.iterdir()) == [] and not (xdg / "visionlab").exists()  # no run, no cache


def test_help_quotes_the_owned_defaults(capsys) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["train", "--help"])
    assert exit_.value.code == 0
    text = " ".join(capsys.readouterr().out.split())
    assert "(default: 5 on the sample set, 30 on real data)" in text
    assert "(default: 96 on the sample set, 512 on real data)" in text
    assert "learning rate (default: 0.001)" in text
    assert "(default: 0.0, 0.0005 with SGD)" in text
    assert "(default: plateau)" in text and "(default: val_qwk)" in text
