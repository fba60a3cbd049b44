"""The run's configuration: one owner per default, the DR recipe over the engine's, config.json."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest

from retinopathy.cli.train import add_arguments
from retinopathy.config import (
    DataConfig,
    EvaluateConfig,
    PredictConfig,
    RunConfig,
    read_run_config,
)
from shared.engine import TrainConfig
from shared.errors import UserError
from shared.runs import write_config


def test_the_sample_set_trains_small_and_real_data_at_the_reports_sizes(tmp_path: Path) -> None:
    sample = RunConfig()
    assert (sample.data.image_size, sample.train.epochs) == (96, 5)
    real = RunConfig(data=DataConfig(str(tmp_path)))
    assert (real.data.image_size, real.train.epochs) == (512, 30)
    assert real.data.data == str(tmp_path.resolve())
    chosen = RunConfig.from_options(data=str(tmp_path), image_size=128, epochs=3)
    assert (chosen.data.image_size, chosen.train.epochs) == (128, 3)


def test_the_engine_owns_its_defaults_and_the_recipe_adds_its_own() -> None:
    engine = TrainConfig()
    config = RunConfig().train
    for name in ("batch_size", "lr", "momentum", "plateau_patience", "plateau_factor", "optimizer"):
        assert getattr(config, name) == getattr(engine, name), name
    assert engine.scheduler != "plateau" and config.scheduler == "plateau"
    assert (config.monitor, config.mode) == ("val_qwk", "max")
    assert config.weight_decay == engine.weight_decay
    assert RunConfig.from_options(optimizer="sgd").train.weight_decay == 5e-4
    assert RunConfig.from_options(optimizer="sgd", weight_decay=0.0).train.weight_decay == 0.0
    loss = RunConfig.from_options(select="val_loss").train
    assert (loss.monitor, loss.mode) == ("val_loss", "min")


def test_options_are_checked_and_normalised() -> None:
    config = RunConfig.from_options(sampling="balanced", class_weights="1,2,3,4,5", mode="graham")
    assert config.sampling == 1.0 and config.class_weights == [1.0, 2.0, 3.0, 4.0, 5.0]
    assert config.data.mode == "graham" and config.train.mode == "max"  # two different "mode"s
    assert RunConfig.from_options(sampling="0.5", lr=None).sampling == 0.5
    for options, message in (
        ({"arch": "resnet19"}, "resnet18"),
        ({"arch": "inception_v3", "image_size": 64}, "at least 75 px"),
        ({"sampling": "lots"}, "--sampling"),
        ({"class_weights": "1,2"}, "5 positive numbers"),
        ({"select": "val_auc"}, "select"),
        ({"loss": "hinge"}, "loss"),
        ({"monitor": "val_loss"}, "unknown training option"),
        ({"lr": 0.0}, "lr must be positive"),
    ):
        with pytest.raises(UserError, match=message):
            RunConfig.from_options(**options)


def test_no_flag_means_the_configs_defaults() -> None:
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    args = parser.parse_args([])
    from retinopathy.cli.train import DATA_OPTIONS, ENGINE_OPTIONS, RUN_OPTIONS
    from shared.cli import given

    assert given(args, *DATA_OPTIONS, *RUN_OPTIONS, *ENGINE_OPTIONS) == {"device": "auto"}
    assert RunConfig.from_options(device="auto") == RunConfig()


def test_config_json_round_trip(tmp_path: Path) -> None:
    config = RunConfig.from_options(arch="resnet34", task="grade3", sampling=0.5, epochs=7)
    config.mean, config.std, config.prepared = [0.5, 0.25, 0.125], [0.2, 0.1, 0.05], "/c/x"
    write_config(tmp_path, config.to_json())
    stored = json.loads((tmp_path / "config.json").read_text())
    assert stored["app"] == "retinopathy" and stored["num_classes"] == 3
    assert stored["image_size"] == 96 and stored["train"]["epochs"] == 7  # flat data, nested engine
    assert read_run_config(tmp_path) == config
    (tmp_path / "config.json").write_text(json.dumps({**stored, "app": "style_transfer"}))
    with pytest.raises(UserError, match="not a retinopathy run"):
        read_run_config(tmp_path)


def test_command_configs_default_to_the_run_s_own_choices() -> None:
    assert EvaluateConfig(Path("r")).tta is None  # None: as the run was trained
    predict = PredictConfig(Path("r"), Path("photos"))
    assert (predict.tta, predict.fuse_eyes, predict.out) == (False, False, None)


def test_a_run_recorded_with_workers_0_still_loads() -> None:
    """Older runs took ``workers: 0`` for every core; 0 is refused now, but their config.json
    must still load (as every core, which is what they meant)."""
    record = RunConfig.from_options(image_size=64).to_json()
    record["workers"] = 0
    assert RunConfig.from_json(record).data.workers is None
    with pytest.raises(UserError, match="--workers must be at least 1, not 0"):
        DataConfig(workers=0)
