"""shared.engine.resume.grown_plan: a resume asked for more epochs grows the recorded plan."""

from __future__ import annotations

import pytest

from shared.engine import TrainConfig
from shared.engine.resume import grown_plan, with_epochs
from shared.errors import UserError
from shared.runs import read_config, write_config


def test_a_grown_recipe_names_the_new_epoch_count_once() -> None:
    recipe = "python -m style_transfer train --style 'my style' --epochs 2 --batch-size 4"
    grown = with_epochs(recipe, 5)
    assert grown == "python -m style_transfer train --style 'my style' --epochs 5 --batch-size 4"
    assert with_epochs("python -m style_transfer train", 3).endswith(" --epochs 3")


def test_more_epochs_are_recorded_the_same_count_leaves_the_run_and_fewer_are_refused(tmp_path):
    train = TrainConfig(epochs=2, batch_size=4)
    config = {"recipe": "python -m app train --epochs 2 --seed 0", "train": train.to_dict()}
    write_config(tmp_path, config)
    assert grown_plan(tmp_path, dict(config), None) == train
    assert grown_plan(tmp_path, dict(config), 2) == train
    assert read_config(tmp_path)["train"]["epochs"] == 2  # nothing written
    assert grown_plan(tmp_path, dict(config), 5).epochs == 5
    written = read_config(tmp_path)
    assert written["train"]["epochs"] == 5
    assert written["recipe"] == "python -m app train --epochs 5 --seed 0"
    with pytest.raises(UserError, match="a resume can add epochs, not remove them"):
        grown_plan(tmp_path, written, 3)
