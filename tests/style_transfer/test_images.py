"""The one image reader and writer: samples, sizes, atomic saves, and awkward files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from shared.errors import UserError
from style_transfer.images import (
    SAMPLE_PHOTOS,
    UnreadableImage,
    fit_size,
    photo_size,
    read_image,
    read_photo,
    resize_max_side,
    write_image,
)


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
    path = write_image(image, tmp_path / "sub" / "out.png")
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
        write_image(torch.rand(3, 4, 4), tmp_path / "x.gif")


def test_grey_and_rgba_images_become_rgb(tmp_path: Path) -> None:
    Image.fromarray(np.full((5, 7), 128, np.uint8)).save(tmp_path / "grey.png")
    Image.fromarray(np.full((5, 7, 4), 200, np.uint8)).save(tmp_path / "rgba.png")
    assert read_image(tmp_path / "grey.png").shape == (3, 5, 7)
    assert read_image(tmp_path / "rgba.png").shape == (3, 5, 7)


def _rotated_jpeg(path: Path) -> np.ndarray:
    """A 20x30 photo stored as 30x20 pixels with EXIF orientation 6 (rotate 90 degrees cw to
    view), as phones write them; returns the photo as it should be seen."""
    seen = np.zeros((20, 30, 3), np.uint8)
    seen[:, :10] = (250, 0, 0)  # red on the left
    stored = np.rot90(seen, k=1)  # what the sensor wrote: viewing rotates it back clockwise
    exif = Image.Exif()
    exif[0x0112] = 6
    Image.fromarray(np.ascontiguousarray(stored)).save(path, exif=exif, quality=95)
    return seen


def test_exif_orientation_is_applied_by_every_reader(tmp_path: Path) -> None:
    seen = _rotated_jpeg(tmp_path / "phone.jpg")
    photo = read_photo(tmp_path / "phone.jpg")
    assert photo.shape == seen.shape == (20, 30, 3)
    assert photo[:, :8, 0].mean() > 200 and photo[:, -8:, 0].mean() < 50  # red on the left
    assert read_image(tmp_path / "phone.jpg").shape == (3, 20, 30)
    assert photo_size(tmp_path / "phone.jpg") == (20, 30)  # from the header alone


def test_sixteen_bit_grey_is_scaled_not_white(tmp_path: Path) -> None:
    ramp = np.linspace(0, 65535, 64 * 16).reshape(16, 64).astype(np.uint16)
    Image.fromarray(ramp).save(tmp_path / "deep.png")
    photo = read_photo(tmp_path / "deep.png")
    assert photo.shape == (16, 64, 3) and photo.dtype == np.uint8
    np.testing.assert_array_equal(photo[..., 0], (ramp >> 8).astype(np.uint8))
    assert 120 < photo.mean() < 135  # a ramp, not the all-white of a naive conversion


def test_cmyk_palette_and_alpha_become_rgb(tmp_path: Path) -> None:
    Image.new("CMYK", (6, 4), (0, 255, 255, 0)).save(tmp_path / "cmyk.jpg")
    Image.new("P", (6, 4), 3).save(tmp_path / "palette.png")
    Image.new("LA", (6, 4), (90, 10)).save(tmp_path / "grey_alpha.png")
    red = read_photo(tmp_path / "cmyk.jpg")
    assert red.shape == (4, 6, 3) and red[..., 0].mean() > 200 and red[..., 1].mean() < 60
    assert read_photo(tmp_path / "palette.png").shape == (4, 6, 3)
    np.testing.assert_array_equal(read_photo(tmp_path / "grey_alpha.png"), 90)


def test_decompression_bomb_is_a_user_error(tmp_path: Path, monkeypatch) -> None:
    Image.new("RGB", (64, 64)).save(tmp_path / "big.png")
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)  # 64x64 is over twice that
    with pytest.raises(UnreadableImage, match=r"cannot read image .*big\.png"):
        read_photo(tmp_path / "big.png")


def test_arrays_and_tensors_write_the_same_png(tmp_path: Path) -> None:
    array = np.random.default_rng(0).integers(0, 256, (9, 13, 3), dtype=np.uint8)
    a = write_image(array, tmp_path / "a.png")
    b = write_image(torch.from_numpy(array).permute(2, 0, 1).float() / 255, tmp_path / "b.png")
    assert a.read_bytes() == b.read_bytes()
    np.testing.assert_array_equal(read_photo(a), array)
    jpeg = write_image(array, tmp_path / "c.jpg")
    assert Image.open(jpeg).format == "JPEG"
    (tmp_path / "d.png").mkdir()
    with pytest.raises(UserError, match="it is a directory"):
        write_image(array, tmp_path / "d.png")
