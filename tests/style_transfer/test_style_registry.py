"""Bundled styles, the registry, the deterministic painter, and image I/O."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from shared.errors import UserError
from style_transfer.imageio import (
    SAMPLE_PHOTOS,
    fit_size,
    read_image,
    resize_max_side,
    save_image,
)
from style_transfer.styles import MODEL_DIR, STYLE_DIR, get_style, list_styles, user_style_dir
from style_transfer.styles.paint import PAINTERS


def test_bundled_styles_are_small_painterly_images() -> None:
    assert {"starry", "wave", "mosaic"} <= set(list_styles())
    for name in list_styles():
        style = get_style(name)
        assert style.image_path.parent == STYLE_DIR
        assert style.image_path.stat().st_size < 300_000
        image = read_image(style.image_path)
        assert max(image.shape[-2:]) == 512
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


@pytest.mark.parametrize("name", sorted(PAINTERS))
def test_painter_is_deterministic(name: str) -> None:
    a, b = PAINTERS[name](96), PAINTERS[name](96)
    assert a.shape == (96, 96, 3) and a.dtype == np.uint8
    np.testing.assert_array_equal(a, b)


def test_sample_photos_load_by_name() -> None:
    assert set(SAMPLE_PHOTOS) == {"astronaut", "chelsea", "coffee", "rocket"}
    cat = read_image("chelsea")
    assert cat.shape == (3, 300, 451) and cat.dtype == torch.float32 and cat.is_contiguous()
    assert cat.min() >= 0 and cat.max() <= 1


def test_resize_keeps_the_aspect() -> None:
    assert fit_size(300, 451, 256) == (170, 256)
    assert fit_size(451, 300, 64) == (64, 43)
    assert resize_max_side(torch.rand(3, 300, 451), 100).shape == (3, 67, 100)


def test_save_is_atomic_and_round_trips(tmp_path: Path) -> None:
    image = torch.rand(3, 20, 30)
    path = save_image(image, tmp_path / "sub" / "out.png")
    assert sorted(p.name for p in path.parent.iterdir()) == ["out.png"]
    back = read_image(path)
    assert (back - image).abs().max() <= 0.5 / 255 + 1e-6


def test_unreadable_and_missing_images_are_user_errors(tmp_path: Path) -> None:
    (tmp_path / "bad.png").write_bytes(b"not a png")
    with pytest.raises(UserError, match="cannot read image"):
        read_image(tmp_path / "bad.png")
    with pytest.raises(UserError, match="image not found"):
        read_image(tmp_path / "none.png")
    with pytest.raises(UserError, match="must end in one of"):
        save_image(torch.rand(3, 4, 4), tmp_path / "x.gif")


def test_grey_and_rgba_images_become_rgb(tmp_path: Path) -> None:
    Image.fromarray(np.full((5, 7), 128, np.uint8)).save(tmp_path / "grey.png")
    Image.fromarray(np.full((5, 7, 4), 200, np.uint8)).save(tmp_path / "rgba.png")
    assert read_image(tmp_path / "grey.png").shape == (3, 5, 7)
    assert read_image(tmp_path / "rgba.png").shape == (3, 5, 7)
