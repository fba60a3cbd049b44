"""``train --fast-dev-run``: one batch of each split through training, evaluation, the report and
predict; nothing left behind without --run-dir."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import pandas as pd
import torch

from retinopathy.__main__ import main


def _args(cache: Path) -> list[str]:
    return [
        "train", "--fast-dev-run", "--arch", "resnet18", "--image-size", "32",
        "--synthetic-images", "400", "--synthetic-size", "128", "--batch-size", "8",
        "--pretrained", "no", "--cache", str(cache), "--threads", "1",
    ]  # fmt: skip


def test_one_batch_of_each_split_goes_all_the_way_through(trained, tmp_path, capsys) -> None:
    _, cache = trained  # its sample set and prepared photos: nothing drawn again
    run = tmp_path / "fdr"
    before = torch.get_num_threads()
    try:
        assert main([*_args(cache), "--run-dir", str(run)]) == 0
    finally:
        torch.set_num_threads(before)
    out = capsys.readouterr().out
    assert "fast dev run passed in" in out and f"kept in {run}" in out
    split = pd.read_csv(run / "split.csv")
    assert split["split"].value_counts().to_dict() == {"train": 8, "val": 8, "test": 8}
    assert len(pd.read_csv(run / "metrics.csv")) == 1  # one epoch
    config = json.loads((run / "config.json").read_text())
    assert config["fast_dev_run"] is True and config["train"]["epochs"] == 1
    assert (run / "report.md").is_file() and len(pd.read_csv(run / "fast_dev.csv")) == 8


def test_without_a_run_folder_nothing_is_kept(trained, tmp_path, capsys, monkeypatch) -> None:
    _, cache = trained
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    before = torch.get_num_threads()
    try:
        assert main(_args(cache)) == 0
    finally:
        torch.set_num_threads(before)
    assert "nothing kept (--run-dir keeps it)" in capsys.readouterr().out
    assert list(scratch.iterdir()) == []
