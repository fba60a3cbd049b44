"""Bundled styles and the registry: names, images, where trained models are looked up."""

from __future__ import annotations

from pathlib import Path

import pytest

from shared.errors import UserError
from style_transfer.images import read_image
from style_transfer.styles import (
    MODEL_DIR,
    STYLE_DIR,
    STYLE_SIDE,
    get_style,
    list_styles,
    pick_styles,
    user_style_dir,
)


def test_bundled_styles_are_small_painterly_images() -> None:
    assert {"starry", "wave", "mosaic"} <= set(list_styles())
    for name in list_styles():
        style = get_style(name)
        assert style.image_path.parent == STYLE_DIR
        assert style.image_path.stat().st_size < 300_000
        image = read_image(style.image_path)
        assert max(image.shape[-2:]) == STYLE_SIDE == 512
        # Strong strokes and a limited palette still mean real texture: no flat image.
        assert image.std() > 0.15


def test_unknown_style_lists_the_valid_ones() -> None:
    with pytest.raises(UserError, match="bundled styles: starry, wave, mosaic"):
        get_style("picasso")


def test_any_image_under_a_name(tmp_path: Path) -> None:
    style = get_style("monet", image=tmp_path / "monet.jpg")
    assert style.image_path == tmp_path / "monet.jpg"
    # no model yet: where training registers it
    assert style.model_path == user_style_dir() / "monet.safetensors"
    with pytest.raises(UserError, match="bad style name"):
        get_style("../etc", image=tmp_path / "x.jpg")


def test_model_path_existence_decides_has_model(tmp_path: Path) -> None:
    style = get_style("starry")
    shipped, mine = MODEL_DIR / "starry.safetensors", user_style_dir() / "starry.safetensors"
    assert style.model_path == (shipped if shipped.is_file() else mine)
    mine.parent.mkdir(parents=True)
    mine.write_bytes(b"")
    assert style.model_path == mine  # the user's own model comes first
    from dataclasses import replace

    local = replace(style, model_dir=tmp_path)
    assert not local.has_model
    local.model_path.write_bytes(b"")
    assert local.has_model


def test_pick_styles_blends_names_or_images(tmp_path: Path) -> None:
    assert [s.name for s in pick_styles("starry, wave")] == ["starry", "wave"]
    mine = pick_styles("mine", [tmp_path / "a.png", tmp_path / "b.png"])
    assert [(s.name, s.image_path.name) for s in mine] == [("mine", "a.png"), ("mine", "b.png")]
    with pytest.raises(UserError, match="one name for the result"):
        pick_styles("a,b", [tmp_path / "a.png"])
