"""A training run's settings: checked when made, turned into the engine's, spelled out again."""

from __future__ import annotations

import shlex
from dataclasses import replace
from pathlib import Path

import pytest

from shared.errors import UserError
from style_transfer.johnson.recipe import (
    JohnsonSettings,
    JohnsonTraining,
    TrainRequest,
    recipe_command,
)


def test_the_papers_schedule_and_the_demo_sets() -> None:
    on_photos = JohnsonTraining().train_config(on_photos=True)
    assert (on_photos.epochs, on_photos.batch_size, on_photos.lr) == (2, 4, 1e-3)
    assert (on_photos.optimizer, on_photos.monitor) == ("adam", "train_loss")
    assert on_photos.precision == "auto"  # resolved by the Trainer, then recorded
    assert on_photos.checkpoint_every == 500
    assert JohnsonTraining().train_config(on_photos=False).epochs == 1
    assert (
        JohnsonTraining(epochs=3, precision="bf16").train_config(on_photos=False).precision
        == "bf16"
    )


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        ({"image_size": 16}, "image_size must be at least 32 px"),
        ({"residual_blocks": 0}, "residual_blocks must be at least 1"),
        ({"style_weight": -1.0}, "style_weight must be a finite number >= 0"),
        ({"tv_weight": float("nan")}, "tv_weight must be a finite number >= 0"),
        ({"widths": (8, 16)}, "widths must be three positive channel counts"),
        ({"out": "model.pt"}, "out must name a .safetensors file"),
        ({"style_layer_weights": (0.0, 0.0)}, "style_layer_weights must be finite, >= 0 and not"),
        ({"style_layer_weights": (1.0, -1.0)}, "style_layer_weights must be finite, >= 0"),
    ],
)
def test_bad_settings_are_user_errors(bad: dict, message: str) -> None:
    with pytest.raises(UserError, match=message):
        JohnsonSettings(**bad)


def test_paths_become_absolute_and_the_recipe_trains_the_same_again(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    settings = JohnsonSettings("mine", data="photos", widths=[8, 16, 32], backbone="vgg16")
    assert settings.data == str(tmp_path / "photos") and settings.widths == (8, 16, 32)
    assert JohnsonSettings.from_dict(vars(settings)) == settings
    request = TrainRequest(settings, style_image=Path("mine.jpg"))
    train = request.training.train_config(on_photos=True)
    words = shlex.split(recipe_command(request, train))
    assert words[:4] == ["python", "-m", "style_transfer", "train"]
    opts = dict(zip(words[4::2], words[5::2], strict=True))
    assert opts["--style"] == "mine" and opts["--style-image"] == "mine.jpg"
    assert opts["--data"] == str(tmp_path / "photos") and opts["--widths"] == "8,16,32"
    assert (opts["--epochs"], opts["--batch-size"], opts["--backbone"]) == ("2", "4", "vgg16")
    assert "--demo-images" not in opts  # a folder of photos: the demo set's size does not apply
    assert "--style-layer-weights" not in opts  # the loss network's own weights
    weighted = replace(settings, style_layer_weights=[1, 1, 2, 4.5])
    assert weighted.style_layer_weights == (1.0, 1.0, 2.0, 4.5)
    words = shlex.split(recipe_command(TrainRequest(weighted), train))
    assert words[words.index("--style-layer-weights") + 1] == "1,1,2,4.5"
    with pytest.raises(UserError, match="export must be one of onnx"):
        TrainRequest(export="tflite")
