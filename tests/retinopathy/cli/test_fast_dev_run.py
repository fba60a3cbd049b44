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


def test_no_normalize_scales_the_inputs_to_0_1_and_records_it(trained, tmp_path) -> None:
    from retinopathy.config import RunConfig
    from retinopathy.data.run_data import RunData
    from retinopathy.prepare import reopen

    _, cache = trained
    run = tmp_path / "plain"
    before = torch.get_num_threads()
    try:
        assert main([*_args(cache), "--no-normalize", "--run-dir", str(run)]) == 0
    finally:
        torch.set_num_threads(before)
    config = json.loads((run / "config.json").read_text())
    assert config["normalize"] is False
    assert (config["mean"], config["std"]) == ([0.0] * 3, [1.0] * 3)
    loaded = RunConfig.from_json(config)
    assert loaded.normalize is False
    data = RunData.of_run(reopen(loaded), loaded, run)
    image = data.test[0][0]
    assert float(image.min()) >= 0.0 and float(image.max()) <= 1.0 and float(image.max()) > 0.2
