"""The OpenCV crop on scikit-image's real retina photo, Graham mode, reduced decoding, bad files."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from retinopathy.data import preprocess
from retinopathy.data.preprocess import (
    BadImage,
    bbox,
    crop_fundus,
    find_square,
    graham,
    load_and_preprocess,
    locate_eye,
    preprocess_file,
    read_photo,
    square_crop,
)
from tests.helpers import photo as real_photo
from tests.retinopathy.fundus_data import png_claiming, write_photo

# Where the fundus disc is inside skimage's 1411x1411 retina.jpg (channel max > 10, measured
# once): x 7..1402, y 4..1401 inclusive; its edge is soft over about 3 px.
RETINA_BOX = (7, 4, 1403, 1402)


@pytest.fixture(scope="module")
def retina() -> np.ndarray:
    return real_photo("retina")


@pytest.mark.parametrize(
    ("canvas", "offset"),
    [((1700, 3000), (200, 150)), ((1500, 2600), (1100, 40)), ((1411, 2200), (700, 0))],
)
def test_bbox_recovers_pasted_retina(retina, canvas, offset) -> None:
    image = np.zeros((*canvas, 3), np.uint8)
    x, y = offset
    image[y : y + 1411, x : x + 1411] = retina
    found = bbox(image)
    expected = (x + RETINA_BOX[0], y + RETINA_BOX[1], x + RETINA_BOX[2], y + RETINA_BOX[3])
    assert found is not None
    assert np.abs(np.subtract(found, expected)).max() <= 3, (found, expected)


def test_crop_is_the_same_whatever_the_border(retina) -> None:
    reference = crop_fundus(retina, 128).astype(int)
    for x, y, w in ((50, 20, 1600), (900, 100, 2600)):
        canvas = np.zeros((1600, w, 3), np.uint8)
        canvas[y : y + 1411, x : x + 1411] = retina
        out = crop_fundus(canvas, 128)
        assert out.shape == (128, 128, 3) and out.dtype == np.uint8
        assert np.abs(out.astype(int) - reference).mean() < 2
    # the disc fills the square: bright pixels reach every side
    assert bbox(crop_fundus(retina, 128)) == pytest.approx((0, 0, 128, 128), abs=2)


def test_clipped_disc_keeps_its_pixels_and_is_centred(retina) -> None:
    band = retina[300:1100]  # top and bottom of the disc cut off by the frame, as on EyePACS
    canvas = np.zeros((800, 2000, 3), np.uint8)
    canvas[:, 300:1711] = band
    out = crop_fundus(canvas, 141)
    # 1411 px -> 141 px: the band's 800 rows land as ~80 rows in the middle, black above/below
    rows = np.flatnonzero(out.max(axis=(1, 2)) > 10)
    assert abs(rows[0] - 30) <= 2 and abs(rows[-1] - 110) <= 2
    assert np.abs(out[31:110].astype(int) - cv2.resize(band, (141, 80))[:79]).mean() < 12


def test_a_crop_inside_the_photo_never_shares_its_memory() -> None:
    image = np.zeros((300, 400, 3), np.uint8)
    image[22:278, 72:328] = 200  # a 256 px "disc" well inside: the crop is read as a view
    for size in (256, 128, 300):  # kept as it is, shrunk, enlarged
        out = crop_fundus(image, size)
        assert out.shape == (size, size, 3) and not np.shares_memory(out, image)
    assert (crop_fundus(image, 256) == 200).all()


def test_fallbacks_all_black_and_borderless() -> None:
    black = np.zeros((300, 400, 3), np.uint8)
    assert not crop_fundus(black, 64).any()
    rng = np.random.default_rng(0)
    texture = rng.integers(60, 255, (200, 300, 3), dtype=np.uint8)
    out = crop_fundus(texture, 100)
    centre = cv2.resize(texture[:, 50:250], (100, 100), interpolation=cv2.INTER_AREA)
    assert np.abs(out.astype(int) - centre).mean() < 1


def test_graham_subtracts_local_average_and_masks(retina) -> None:
    square = crop_fundus(retina, 200)
    out = graham(square)
    assert out.shape == square.shape and out.dtype == np.uint8
    assert (out[0, 0] == 128).all() and (out[5, 100] == 128).all()  # outside 90% of the radius
    yy, xx = np.mgrid[:200, :200]
    inner = np.hypot(yy - 100, xx - 100) < 80
    assert abs(out[inner].mean() - 128) < 12  # local colour removed: centred on grey
    assert out[inner].std() > 10  # detail (vessels) kept, amplified


def test_reduced_decode_matches_full_decode(tmp_path: Path, retina) -> None:
    canvas = np.zeros((900, 1300, 3), np.uint8)
    canvas[:, 200:1100] = cv2.resize(retina, (900, 900), interpolation=cv2.INTER_AREA)
    path = write_photo(tmp_path / "big.jpeg", canvas)
    image, factor, notes = read_photo(path, 200)
    assert factor == 4 and image.shape[:2] == (225, 325) and notes == []
    fast = load_and_preprocess(path, 200)
    full = crop_fundus(cv2.cvtColor(cv2.imread(str(path)), cv2.COLOR_BGR2RGB), 200)
    assert np.abs(fast.astype(int) - full).mean() < 3


def test_small_eye_in_a_big_frame_is_decoded_sharp(tmp_path: Path, retina) -> None:
    canvas = np.zeros((1200, 1600, 3), np.uint8)
    canvas[450:750, 650:950] = cv2.resize(retina, (300, 300), interpolation=cv2.INTER_AREA)
    path = write_photo(tmp_path / "small_eye.jpeg", canvas)
    assert read_photo(path, 256)[1] == 4  # first guess from the frame size...
    out = load_and_preprocess(path, 256)  # ...but the eye is only 300 px: decoded again at 1/1
    full = crop_fundus(cv2.cvtColor(cv2.imread(str(path)), cv2.COLOR_BGR2RGB), 256)
    assert np.abs(out.astype(int) - full).mean() < 1


def _decodes(monkeypatch) -> list[int]:
    """The scale factors the photo is decoded at, in order."""
    factors: list[int] = []
    decode = preprocess._decode

    def counted(data: bytes, fmt: str | None, factor: int) -> np.ndarray:
        factors.append(factor)
        return decode(data, fmt, factor)

    monkeypatch.setattr(preprocess, "_decode", counted)
    return factors


def _noisy_frame(retina: np.ndarray, disc: int, frame: tuple[int, int]) -> np.ndarray:
    """The retina ``disc`` px across, centred in a black frame, with sensor noise (sigma 3)."""
    canvas = np.zeros((*frame, 3), np.uint8)
    top, left = (frame[0] - disc) // 2, (frame[1] - disc) // 2
    canvas[top : top + disc, left : left + disc] = cv2.resize(retina, (disc, disc))
    noise = np.random.default_rng(disc).normal(0, 3, canvas.shape)
    return np.clip(canvas + noise, 0, 255).astype(np.uint8)


def _against_full_decode(path: Path, size: int) -> tuple[int, np.ndarray, int]:
    """(our scale factor, |ours - a full decode cut at our square|, our square's largest distance
    from the full decode's own square, in full-size px)."""
    _, factor, (x0, y0, side), _ = locate_eye(path, size)
    full = read_photo(path, size, reduce=False)[0]
    scaled = (x0 * factor, y0 * factor, side * factor)
    ours = cv2.cvtColor(square_crop(full, scaled, size), cv2.COLOR_BGR2RGB)
    difference = np.abs(load_and_preprocess(path, size).astype(int) - ours)
    moved = np.abs(np.subtract(scaled, find_square(full))).max()
    return factor, difference, moved


def test_an_eye_just_under_the_size_is_decoded_once_and_enlarged(
    tmp_path: Path, retina, monkeypatch
) -> None:
    # The usual EyePACS layout at half scale: the whole disc just inside the frame's height, so
    # at 1/4 it is 253 px for a 256 px output (over MIN_EYE_SCALE, 90%).
    path = write_photo(tmp_path / "eye.jpeg", _noisy_frame(retina, 1024, (1024, 1536)))
    factors = _decodes(monkeypatch)
    load_and_preprocess(path, 256)
    assert factors == [4]  # one decode, not a second one at full size
    factor, difference, moved = _against_full_decode(path, 256)
    assert factor == 4
    assert difference.mean() < 1 and difference.max() <= 24, (difference.mean(), difference.max())
    assert moved <= 8  # the same square, to the 4-5 px both scales quantise it to


def test_a_small_eye_is_decoded_again_at_the_smallest_scale_that_suffices(
    tmp_path: Path, retina, monkeypatch
) -> None:
    path = write_photo(tmp_path / "eye.jpeg", _noisy_frame(retina, 800, (1024, 1536)))
    factors = _decodes(monkeypatch)
    load_and_preprocess(path, 256)
    assert factors == [4, 2]  # 1/4: 200 px, too few; 1/2: 400 px, enough (not a full decode)
    factor, difference, moved = _against_full_decode(path, 256)
    assert factor == 2 and difference.mean() < 1 and moved <= 4, (difference.mean(), moved)


def _truncated(path: Path) -> None:
    write_photo(path.with_suffix(".full.jpeg"), size=128)
    data = path.with_suffix(".full.jpeg").read_bytes()
    path.write_bytes(data[: len(data) // 2])


BAD = {
    "missing.jpeg": (lambda p: None, "file not found"),
    "empty.jpeg": (lambda p: p.write_bytes(b""), "empty file"),
    "text.jpeg": (lambda p: p.write_text("not a photo\n" * 20), "not an image"),
    "cut.jpeg": (_truncated, "truncated JPEG"),
    "cut.png": (
        lambda p: p.write_bytes(cv2.imencode(".png", np.full((90, 90, 3), 99, np.uint8))[1][:-40]),
        "truncated PNG",
    ),
    "tiny.png": (lambda p: write_photo(p, np.full((40, 50, 3), 120, np.uint8)), "tiny image 50x40"),
    "bomb.png": (lambda p: p.write_bytes(png_claiming(100_000, 100_000)), "decompression bomb"),
}


@pytest.mark.parametrize("name", sorted(BAD))
def test_bad_files_raise_with_reason(tmp_path: Path, name: str) -> None:
    make, reason = BAD[name]
    path = tmp_path / name
    make(path)
    with pytest.raises(BadImage, match=reason):
        load_and_preprocess(path, 64)


def test_conversions_are_kept_and_noted(tmp_path: Path) -> None:
    rgb = cv2.resize(real_photo("retina"), (120, 120), interpolation=cv2.INTER_AREA)
    grey = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
    cv2.imwrite(str(tmp_path / "grey.png"), grey)
    cv2.imwrite(
        str(tmp_path / "rgba.png"), np.dstack([rgb[..., ::-1], np.full(grey.shape, 255, np.uint8)])
    )
    cv2.imwrite(str(tmp_path / "deep.png"), rgb[..., ::-1].astype(np.uint16) * 257)
    out, notes = preprocess_file(tmp_path / "grey.png", 64)
    assert any("greyscale" in n for n in notes)
    assert (out[..., 0] == out[..., 1]).all() and (out[..., 1] == out[..., 2]).all()
    reference = load_and_preprocess(write_photo(tmp_path / "rgb.png", rgb), 64).astype(int)
    out, notes = preprocess_file(tmp_path / "rgba.png", 64)
    assert any("alpha" in n for n in notes) and np.abs(out - reference).max() <= 1
    out, notes = preprocess_file(tmp_path / "deep.png", 64)
    assert any("16-bit" in n for n in notes) and np.abs(out - reference).max() <= 1
