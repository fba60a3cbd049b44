"""``python -m retinopathy evaluate``: the same metrics again, and one-line errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from retinopathy.__main__ import main


def test_evaluate_again_reproduces_the_test_metrics(trained, capsys) -> None:
    run, _ = trained
    before = json.loads((run / "test_metrics.json").read_text())["summary"]
    assert main(["evaluate", "--run-dir", str(run)]) == 0
    after = json.loads((run / "test_metrics.json").read_text())["summary"]
    assert after == before
    assert "QWK" in capsys.readouterr().out


def test_a_folder_that_is_not_a_run_is_one_line(tmp_path: Path, capsys) -> None:
    assert main(["evaluate", "--run-dir", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip()
    assert "not a run folder" in err and len(err.splitlines()) == 1
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("device", ["cuda", "mps"])
def test_absent_device_is_one_line_and_creates_nothing(
    trained, tmp_path: Path, capsys, monkeypatch, device: str
) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)
    run, _ = trained
    report = (run / "report.md").stat().st_mtime_ns
    for target in (tmp_path / "nowhere", run):
        assert main(["evaluate", "--run-dir", str(target), "--device", device]) == 2
        err = capsys.readouterr().err.strip()
        assert device in err and len(err.splitlines()) == 1
    assert not (tmp_path / "nowhere").exists()
    assert (run / "report.md").stat().st_mtime_ns == report  # nothing rewritten


def test_evaluate_in_fp32_reproduces_an_fp32_runs_test_metrics(trained, capsys) -> None:
    run, _ = trained
    assert json.loads((run / "config.json").read_text())["train"]["precision"] == "fp32"
    before = json.loads((run / "test_metrics.json").read_text())
    assert main(["evaluate", "--run-dir", str(run), "--precision", "fp32"]) == 0
    assert json.loads((run / "test_metrics.json").read_text()) == before
    assert ", fp32" in capsys.readouterr().out.splitlines()[0]


@pytest.mark.parametrize("command", ["evaluate", "predict"])
def test_an_unknown_precision_is_refused_by_the_parser(trained, capsys, command) -> None:
    run, _ = trained
    images = [str(run)] if command == "predict" else []
    with pytest.raises(SystemExit) as exc:
        main([command, "--run-dir", str(run), *images, "--precision", "fp8"])
    assert exc.value.code == 2
    assert "invalid choice: 'fp8'" in capsys.readouterr().err
