"""shared.runs: the run folder layout, config.json and metrics.csv."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from shared.checkpoint import save_checkpoint
from shared.errors import UserError
from shared.runs import (
    MetricsLog,
    RunPaths,
    is_run_dir,
    kept_checkpoint,
    library_versions,
    load_kept_checkpoint,
    new_run_dir,
    read_config,
    require_run_dir,
    write_config,
)


def test_new_run_dirs_are_timestamped_and_unique(tmp_path):
    first = new_run_dir("retinopathy", "resnet 50/v2", root=tmp_path)
    second = new_run_dir("retinopathy", "resnet 50/v2", root=tmp_path)
    assert first.parent == tmp_path / "retinopathy"
    assert re.fullmatch(r"\d{8}-\d{6}-resnet-50-v2", first.name)
    assert second != first and second.is_dir() and second.name.startswith(first.name[:15])


def test_explicit_run_folder_is_created_but_never_reused(tmp_path):
    run = new_run_dir("style", "x", root=tmp_path, run=tmp_path / "a" / "b")
    assert run == tmp_path / "a" / "b" and run.is_dir()
    write_config(run, {"train": {}})
    with pytest.raises(UserError, match="already a run folder"):
        new_run_dir("style", "x", root=tmp_path, run=run)


def test_paths_come_from_one_place(tmp_path):
    paths = RunPaths(tmp_path)
    assert paths.config == tmp_path / "config.json"
    assert paths.metrics == tmp_path / "metrics.csv"
    assert paths.last == tmp_path / "checkpoints" / "last.pt"
    assert paths.best == tmp_path / "checkpoints" / "best.pt"
    assert paths.plot("curves") == tmp_path / "plots" / "curves.png"
    assert paths.report == tmp_path / "report.md"


def test_config_round_trip_and_not_a_run_errors(tmp_path):
    config = {"arch": "resnet18", "data": Path("/data/x"), "train": {"lr": 0.001, "amp": False}}
    write_config(tmp_path, config)
    # the versions it computes with are recorded beside the settings
    assert read_config(tmp_path) == {**config, "data": "/data/x", "versions": library_versions()}
    assert is_run_dir(tmp_path) and not is_run_dir(tmp_path / "nope")
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(UserError, match=r"empty is not a run folder \(no config.json\)"):
        read_config(empty)
    with pytest.raises(UserError, match="does not exist"):
        require_run_dir(tmp_path / "missing")
    with pytest.raises(TypeError, match="not JSON-serialisable"):
        write_config(tmp_path, {"bad": object()})
    assert json.loads((tmp_path / "config.json").read_text())["arch"] == "resnet18"  # untouched


def test_metrics_log_appends_widens_and_truncates(tmp_path):
    log = MetricsLog(tmp_path / "metrics.csv")
    assert log.rows() == []
    log.append({"epoch": 1, "train_loss": 0.1 + 0.2, "lr": 1e-3})
    log.append({"epoch": 2, "train_loss": 0.25, "lr": 1e-3})
    log.append({"epoch": 3, "train_loss": 0.2, "lr": 1e-4, "val_qwk": 0.5})  # a new column
    rows = log.rows()
    assert [r["epoch"] for r in rows] == [1, 2, 3]
    assert rows[0]["train_loss"] == 0.1 + 0.2  # repr round trip: exact
    assert rows[0]["val_qwk"] is None and rows[2]["val_qwk"] == 0.5
    log.truncate(1)
    assert [r["epoch"] for r in log.rows()] == [1]
    assert (tmp_path / "metrics.csv").read_text().splitlines()[0] == "epoch,train_loss,lr,val_qwk"
    with pytest.raises(ValueError, match="epoch"):
        log.append({"train_loss": 1.0})


def test_the_kept_model_is_best_then_last(tmp_path):
    write_config(tmp_path, {"train": {}})
    paths = RunPaths(tmp_path)
    with pytest.raises(UserError, match="no checkpoint yet"):
        kept_checkpoint(tmp_path)
    save_checkpoint(paths.last, {"epoch": 2, "batch": 0, "best_epoch": 1})
    assert kept_checkpoint(tmp_path) == paths.last
    with pytest.warns(UserWarning, match=r"last\.pt \(epoch 2\) is the model used: best\.pt"):
        kept = load_kept_checkpoint(tmp_path)
    assert kept.path == paths.last and "of the best epoch 1" in kept.note
    save_checkpoint(paths.best, {"epoch": 1, "batch": 0, "best_epoch": 1})
    kept = load_kept_checkpoint(tmp_path)
    assert kept.path == paths.best and kept.epoch == 1 and kept.note is None
    with pytest.raises(UserError, match="not a run folder"):
        kept_checkpoint(tmp_path / "checkpoints")
