"""A finished run keeps best.pt and loses last.pt (the training state) unless --keep-last; such
a run is evaluated again on resume, and refused, with the way out, when asked for more epochs."""

from __future__ import annotations

from pathlib import Path

import torch

from retinopathy.__main__ import main
from shared.runs import RunPaths
from tests.retinopathy.conftest import train_args


def _one_epoch(cache: Path, run: Path) -> list[str]:
    args = [a for a in train_args(cache, run) if a != "--keep-last"]
    args[args.index("--epochs") + 1] = "1"
    return [*args, "--threads", "1"]


def test_a_finished_run_keeps_its_model_not_its_training_state(trained, tmp_path, capsys):
    _, cache = trained
    run = tmp_path / "run"
    before = torch.get_num_threads()
    try:
        assert main(_one_epoch(cache, run)) == 0
        paths = RunPaths(run)
        assert paths.best.is_file() and not paths.last.exists()
        assert f"removed {paths.last} (" in capsys.readouterr().out
        rows = paths.metrics.read_text()
        assert main(["train", "--resume", str(run)]) == 0  # evaluated again, nothing trained
        assert paths.metrics.read_text() == rows and paths.report.is_file()
        assert main(["train", "--resume", str(run), "--epochs", "2"]) == 2
    finally:
        torch.set_num_threads(before)
    (line,) = capsys.readouterr().err.splitlines()[-1:]
    assert "kept no training state to continue from" in line and f"--config {run}" in line
    assert not paths.last.exists() and paths.best.is_file()


def test_keep_last_keeps_it(trained, tmp_path) -> None:
    _, cache = trained
    run = tmp_path / "kept"
    before = torch.get_num_threads()
    try:
        assert main([*_one_epoch(cache, run), "--keep-last"]) == 0
    finally:
        torch.set_num_threads(before)
    assert RunPaths(run).last.is_file()
