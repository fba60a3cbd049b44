"""``train --config``: a run made again from its config.json gives the same metrics; flags beside
it override and are recorded; a TOML of the same keys works; a bad file is one line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from retinopathy.__main__ import main
from retinopathy.config_file import read_settings, rerun_options


def test_a_run_made_from_its_config_gives_its_metrics(trained, tmp_path: Path) -> None:
    reference, _ = trained
    again = tmp_path / "again"
    before = torch.get_num_threads()
    try:
        assert main(["train", "--config", str(reference), "--run-dir", str(again)]) == 0
    finally:
        torch.set_num_threads(before)
    expect = json.loads((reference / "test_metrics.json").read_text())["summary"]
    assert json.loads((again / "test_metrics.json").read_text())["summary"] == expect
    config = json.loads((again / "config.json").read_text())
    assert config["config_file"] == str(reference / "config.json") and config["overrides"] == {}


def test_flags_beside_the_file_override_it_and_are_recorded(trained) -> None:
    reference, _ = trained
    recorded = json.loads((reference / "config.json").read_text())
    path, options, overrides = rerun_options(reference, {"lr": 0.5, "arch": "resnet18"})
    assert path == reference / "config.json"
    assert options["lr"] == 0.5 and options["epochs"] == recorded["train"]["epochs"] == 2
    assert overrides == {"lr": 0.5}  # arch is the run's own: not an override
    assert options["image_size"] == 32 and options["threads"] == recorded["train"]["threads"]
    assert "mean" not in options and "num_classes" not in options  # found again, not chosen


def test_a_toml_of_the_same_keys(tmp_path: Path) -> None:
    toml = tmp_path / "recipe.toml"
    toml.write_text('arch = "resnet34"\nimage_size = 64\n[train]\nepochs = 3\nlr = 1e-4\n')
    assert read_settings(toml) == (
        toml,
        {"arch": "resnet34", "image_size": 64, "epochs": 3, "lr": 1e-4},
    )


@pytest.mark.parametrize(
    ("text", "suffix", "message"),
    [
        ('arch = "resnet18"\nepocs = 3\n', ".toml", "not a training setting: epocs"),
        ("[train]\nlearning_rate = 1\n", ".toml", "not a training setting: train.learning_rate"),
        ("arch = ", ".toml", "not valid TOML"),
        ('{"app": "style_transfer"}', ".json", "is not a retinopathy run's config.json"),
        (None, ".json", "no such file"),
    ],
)
def test_a_bad_config_file_is_one_line(tmp_path, capsys, text, suffix, message) -> None:
    path = tmp_path / f"config{suffix}"
    if text is not None:
        path.write_text(text)
    assert main(["train", "--config", str(path), "--run-dir", str(tmp_path / "r")]) == 2
    (line,) = capsys.readouterr().err.splitlines()
    assert message in line and not (tmp_path / "r").exists()


def test_config_and_resume_together_are_refused(trained, capsys) -> None:
    reference, _ = trained
    assert main(["train", "--resume", str(reference), "--config", str(reference)]) == 2
    assert "drop --config" in capsys.readouterr().err
