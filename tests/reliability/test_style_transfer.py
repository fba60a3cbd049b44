"""Hostile photos for ``style-transfer stylize`` and ``style_transfer.stylize``: 16-bit and other
image kinds, EXIF orientation on every reader, decompression bombs, and the small hostile values
(empty files, text named .jpg, a 1x1 photo, --size 0, a folder where one photo is expected).

Photos are scikit-image's, a few dozen pixels; Gatys runs 2 steps at 48 px on EfficientNet-Lite0,
Johnson with the shipped models.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import style_transfer
from shared.errors import UserError
from style_transfer.images import read_photo
from tests.reliability.corpus import case, one_line_error
from tests.reliability.style_files import (
    GATYS,
    JOHNSON,
    bomb_png,
    correlation,
    files_under,
    phone_jpeg,
    png16,
    real_photo,
    run_cli,
    spy_on_sheets,
)


@pytest.fixture(autouse=True)
def _isolated(tmp_path: Path, monkeypatch) -> None:
    """No user styles; run folders land in the test's own folder."""
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    monkeypatch.chdir(tmp_path)


@pytest.fixture
def sheets(monkeypatch) -> list[tuple[list, list[str]]]:
    return spy_on_sheets(monkeypatch)


# -- image kinds: the reader's numbers ------------------------------------------------------

RAMP = np.linspace(0, 65535, 16 * 256).reshape(16, 256).astype(np.uint16)
TOP_BYTE = (RAMP >> 8).astype(np.uint8)


def _kind(kind: str, folder: Path) -> tuple[Path, np.ndarray]:
    """A file of ``kind`` holding the ramp, and the HxWx3 uint8 picture it must read as."""
    grey, rgb = np.stack([TOP_BYTE] * 3, -1), np.stack([RAMP, 65535 - RAMP, RAMP // 2], -1)
    alpha = RAMP[::-1]  # varies, and must not leak into the colours
    rgb8 = (rgb >> 8).astype(np.uint8)
    made = {
        "grey16": lambda p: png16(p, RAMP),
        "grey_alpha16": lambda p: png16(p, np.stack([RAMP, alpha], -1)),
        "rgb16": lambda p: png16(p, rgb),
        "rgba16": lambda p: png16(p, np.dstack([rgb, alpha])),
        "grey16_tiff": lambda p: Image.fromarray(RAMP).save(p),
        "bilevel": lambda p: Image.fromarray(TOP_BYTE > 127).save(p),
        "palette": lambda p: _palette(p, transparency=False),
        "palette_transparent": lambda p: _palette(p, transparency=True),
        "cmyk_tiff": lambda p: Image.fromarray(rgb8).convert("CMYK").save(p),
        "float_tiff": lambda p: Image.fromarray((RAMP / 65535).astype(np.float32)).save(p),
    }
    expected = {"rgb16": rgb8, "rgba16": rgb8, "cmyk_tiff": rgb8, "bilevel": (grey > 127) * 255}
    expected["float_tiff"] = np.stack([np.round(RAMP / 65535 * 255)] * 3, -1)
    path = folder / f"{kind}.{'tif' if kind.endswith('tiff') else 'png'}"
    made[kind](path)
    return path, expected.get(kind, grey).astype(np.uint8)


def _palette(path: Path, transparency: bool) -> None:
    img = Image.fromarray(TOP_BYTE, "P")
    img.putpalette([v for i in range(256) for v in (i, i, i)])
    img.save(path, **({"transparency": 0} if transparency else {}))


KINDS = [
    case(
        "style-transfer stylize", "16-bit PNGs (greyscale, grey+alpha, RGB, RGBA) and a 16-bit "
        "greyscale TIFF, as content or style", "read as the same picture in 8 bits (the top "
        "byte of each value) and RGB, alpha dropped: a 16-bit ramp is the same ramp, never the "
        "all-white of a naive conversion",
        ["grey16", "grey_alpha16", "rgb16", "rgba16", "grey16_tiff"], id="read-16-bit",
    ),
    case(
        "style-transfer stylize", "1-bit, palette (with and without transparency), CMYK and "
        "32-bit float images", "read as RGB with the values they show",
        ["bilevel", "palette", "palette_transparent", "cmyk_tiff", "float_tiff"],
        id="read-other-modes",
    ),
]  # fmt: skip


@pytest.mark.parametrize(("entry", "kinds"), KINDS)
def test_every_image_kind_reads_as_the_picture_it_holds(tmp_path, entry, kinds) -> None:
    for kind in kinds:
        path, expected = _kind(kind, tmp_path)
        photo = read_photo(path)
        assert photo.shape == (16, 256, 3) and photo.dtype == np.uint8, kind
        np.testing.assert_array_equal(photo, expected, err_msg=kind)


# -- a 16-bit photo, end to end -------------------------------------------------------------


def _deep_photo(path: Path) -> tuple[Path, np.ndarray]:
    """scikit-image's camera man as a 16-bit greyscale PNG, and his 8-bit picture."""
    picture = real_photo("camera")
    return png16(path, picture[..., 0].astype(np.uint16) * 257), picture


DEEP = [
    case(
        "style-transfer stylize", "a 16-bit greyscale PNG photo as content (Johnson, the shipped "
        "starry model)", "exit 0; the result follows the photo (luminance correlation above "
        "0.6), not a stylised blank", "johnson", id="16-bit-content-johnson",
    ),
    case(
        "style-transfer stylize", "a 16-bit greyscale PNG photo as content (Gatys)", "exit 0; "
        "the result follows the photo (correlation above 0.9)", "gatys",
        id="16-bit-content-gatys",
    ),
    case(
        "style-transfer stylize", "a 16-bit greyscale PNG as --style-image (Gatys)", "exit 0; "
        "the painting the optimiser matches is the image in 8 bits", "style",
        id="16-bit-style-image",
    ),
    case(
        "style_transfer.stylize()", "a 16-bit greyscale PNG path, and the same file opened "
        "with PIL", "a stylised PIL image that follows the photo", "api", id="16-bit-api",
    ),
]  # fmt: skip


@pytest.mark.parametrize(("entry", "path_"), DEEP)
def test_a_16_bit_photo_is_stylised_not_blanked(tmp_path, sheets, entry, path_) -> None:
    deep, picture = _deep_photo(tmp_path / "deep.png")
    out = tmp_path / "out.png"
    if path_ == "api":
        for given in (str(deep), Image.open(deep)):
            result = style_transfer.stylize(given, threads=1)
            assert correlation(np.asarray(result), picture) > 0.6
        return
    if path_ == "style":
        argv = ["--style-image", deep, "--content", "chelsea", *GATYS]
    else:
        argv = ["--content", deep, *(GATYS if path_ == "gatys" else JOHNSON)]
    assert run_cli("stylize", *argv, "--out", out) == 0
    images, _ = sheets[-1]
    if path_ == "style":
        painting = images[1]
        assert painting.shape == picture.shape and np.abs(painting - picture.astype(int)).max() <= 1
        return
    result = np.asarray(Image.open(out))
    assert correlation(result, picture) > (0.9 if path_ == "gatys" else 0.6)


# -- EXIF orientation, every reader ---------------------------------------------------------


def _upright() -> np.ndarray:
    """A portrait crop of scikit-image's cat (300x200 px from 451x300), at 40 wide, 60 high."""
    crop = np.ascontiguousarray(real_photo("chelsea", (451, 300))[:, 120:320])
    return np.asarray(Image.fromarray(crop).resize((40, 60), Image.Resampling.BOX))


def _close(a: np.ndarray, b: np.ndarray) -> bool:
    """The same picture, up to JPEG's loss (and the wrong way round is far off)."""
    return a.shape == b.shape and float(np.abs(a.astype(int) - b).mean()) < 8


EXIF = [
    case(
        "style-transfer stylize", "a portrait phone JPEG stored landscape with EXIF orientation "
        "6 or 8, as Gatys content", "the result is portrait; the photo was read upright",
        "gatys-content", id="exif-gatys-content",
    ),
    case(
        "style-transfer stylize", "the same phone JPEG as --style-image (Gatys)", "the painting "
        "matched is upright", "gatys-style", id="exif-gatys-style",
    ),
    case(
        "style-transfer stylize", "the same phone JPEG as Johnson content, alone and in a "
        "folder", "every result is portrait, the photos read upright", "johnson",
        id="exif-johnson",
    ),
    case(
        "style_transfer.stylize()", "the phone JPEG as a path, and opened with PIL (its EXIF "
        "still attached)", "a portrait result either way (a PIL image was read sideways "
        "before)", "api", id="exif-api",
    ),
]  # fmt: skip


@pytest.mark.parametrize(("entry", "reader"), EXIF)
@pytest.mark.parametrize("tag", [6, 8])
def test_exif_orientation_is_applied_by_every_reader(tmp_path, sheets, entry, reader, tag):
    upright = _upright()
    phone = phone_jpeg(tmp_path / "phone.jpg", upright, tag)
    assert _close(read_photo(phone), upright)
    out = tmp_path / "out.png"
    if reader == "api":
        for given in (str(phone), Image.open(phone)):
            assert style_transfer.stylize(given, threads=1).size == (40, 60)
    elif reader == "gatys-content":
        assert run_cli("stylize", "--content", phone, *GATYS, "--out", out) == 0
        assert Image.open(out).size == (32, 48)  # portrait at --size 48
        assert correlation(sheets[-1][0][0], upright) > 0.9  # the sheet's photo: upright
    elif reader == "gatys-style":
        assert run_cli("stylize", "--style-image", phone, *GATYS, "--out", out) == 0
        assert _close(sheets[-1][0][1], upright)
    else:
        folder = tmp_path / "photos"
        folder.mkdir()
        for name in ("a.jpg", "b.jpg"):
            (folder / name).write_bytes(phone.read_bytes())
        assert run_cli("stylize", "--content", phone, *JOHNSON, "--out", out) == 0
        assert Image.open(out).size == (40, 60) and _close(sheets[-1][0][0], upright)
        assert run_cli("stylize", "--content", folder, *JOHNSON, "--out", tmp_path / "st") == 0
        assert [Image.open(tmp_path / "st" / n).size for n in ("a.jpg", "b.jpg")] == [(40, 60)] * 2


# -- decompression bombs --------------------------------------------------------------------

BOMB = r"cannot read image \S+bomb\.png: Image size \(900000000 pixels\) exceeds limit"
BOMBS = [
    case(
        "style-transfer stylize", f"a decompression bomb (a PNG header claiming 30000x30000) as "
        f"{what}", "exit 2, one line: `cannot read image <path>: Image size (900000000 pixels) "
        "exceeds limit of 178956970 pixels...`; nothing decoded, nothing written", argv,
        message=BOMB, id=f"bomb-{name}",
    )
    for name, what, argv in [
        ("johnson", "Johnson content", ["--content", "{bomb}", *JOHNSON]),
        ("gatys", "Gatys content", ["--content", "{bomb}", *GATYS]),
        ("style-image", "--style-image", ["--style-image", "{bomb}", "--content", "chelsea",
                                          *GATYS]),
    ]
]  # fmt: skip


@pytest.mark.parametrize(("entry", "argv"), BOMBS)
def test_a_decompression_bomb_is_one_line(tmp_path, capsys, entry, argv) -> None:
    bomb = bomb_png(tmp_path / "bomb.png")
    before = files_under(tmp_path)
    out = tmp_path / "out.png"
    assert run_cli("stylize", *(str(a).format(bomb=bomb) for a in argv), "--out", out) == 2
    one_line_error(capsys.readouterr().err, entry)
    assert files_under(tmp_path) == before
    with pytest.raises(UserError, match=BOMB):
        style_transfer.stylize(str(bomb), threads=1)


# -- small hostile values -------------------------------------------------------------------


def _inputs(tmp: Path) -> dict[str, Path]:
    (tmp / "empty.jpg").write_bytes(b"")
    (tmp / "notes.jpg").write_text("a shopping list, not a photo")
    Image.fromarray(real_photo(size=(1, 1))).save(tmp / "dot.png")
    Image.fromarray(real_photo()).save(tmp / "cat.png")
    (tmp / "nothing").mkdir()
    (tmp / "nothing" / "readme.txt").write_text("no images here")
    (tmp / "photos").mkdir()
    Image.fromarray(real_photo("coffee")).save(tmp / "photos" / "coffee.png")
    return {p.stem: p for p in tmp.iterdir()}


HOSTILE = [
    case("style-transfer stylize", tried, gets, argv, message=message, id=name)
    for name, tried, gets, argv, message in [
        ("empty-file", "a zero-byte content file (Johnson and Gatys)", "exit 2, one line: "
         "`cannot read image <path>: cannot identify image file ...`, nothing written",
         ["--content", "{empty}"], r"cannot read image \S+empty\.jpg: cannot identify"),
        ("text-as-jpg", "a text file named .jpg as content (Johnson and Gatys)", "exit 2, one "
         "line: `cannot read image <path>: cannot identify image file ...`",
         ["--content", "{notes}"], r"cannot read image \S+notes\.jpg: cannot identify"),
        ("one-pixel-johnson", "a 1x1 photo as Johnson content", "exit 2, one line naming the "
         "photo: `cannot read image <path>: 1x1 px is too small for the network (at least 8 px "
         "a side)`", ["--content", "{dot}", *JOHNSON],
         r"cannot read image \S+dot\.png: 1x1 px is too small for the network"),
        ("size-zero", "--size 0 (Johnson and Gatys)", "exit 2 before any work: `size must be at "
         "least 8 px, not 0` (Johnson), `size must be a positive number of pixels, not 0` "
         "(Gatys)", ["--content", "{cat}", "--size", "0"], r"size must be .*, not 0$"),
        ("size-negative", "--size -5 (Johnson and Gatys)", "exit 2 before any work, as for "
         "--size 0", ["--content", "{cat}", "--size", "-5"], r"size must be .*, not -5$"),
        ("folder-without-images", "a content folder with no image in it", "exit 2: `no images "
         "(.jpg, .jpeg, .png, .bmp, .webp, .tif, .tiff) in <dir>`",
         ["--content", "{nothing}", *JOHNSON], r"no images \(\.jpg.*\) in \S+nothing$"),
        ("unknown-style", "a style name that does not exist", "exit 2: `unknown style 'picasso'; "
         "bundled styles: starry, wave, mosaic (or give STYLE_IMAGE=path ...)`",
         ["--style", "picasso", "--content", "{cat}"], r"unknown style 'picasso'; bundled"),
        ("gatys-folder", "a folder as Gatys content (it optimises one photo)", "exit 2: `the "
         "gatys method stylises one photo, not <dir>: a trained model (method johnson) takes "
         "folders and lists of photos` (was: `image not found`)", ["--content", "{photos}",
         *GATYS], r"the gatys method stylises one photo, not \S+photos: a trained model"),
    ]
]  # fmt: skip


@pytest.mark.parametrize(("entry", "argv"), HOSTILE)
def test_small_hostile_inputs_are_one_line(tmp_path, capsys, entry, argv) -> None:
    places = _inputs(tmp_path)
    methods = [[]] if "--method" in argv or "--style" in argv else [JOHNSON, GATYS]
    for method in methods:
        before = files_under(tmp_path)
        args = [str(a).format(**places) for a in argv]
        # the method's flags first: a --size tried here overrides their own
        assert run_cli("stylize", *method, *args, "--out", tmp_path / "out.png") == 2, method
        one_line_error(capsys.readouterr().err, entry)
        assert files_under(tmp_path) == before


@pytest.mark.parametrize(
    "entry",
    [
        case(
            "style_transfer.stylize()", "a folder where one photo is expected", "UserError: "
            "`<dir> is a folder, not an image file` (was: `image not found`)",
            message=r"\S+photos is a folder, not an image file$", id="api-folder",
        ),
    ],
)  # fmt: skip
def test_the_api_names_a_folder_given_as_a_photo(tmp_path, entry) -> None:
    places = _inputs(tmp_path)
    with pytest.raises(UserError) as raised:
        style_transfer.stylize(str(places["photos"]), threads=1)
    assert entry.matches(str(raised.value)), raised.value


@pytest.mark.parametrize(
    "entry",
    [
        case(
            "style-transfer stylize", "a 1x1 photo as Gatys content", "exit 0: the photo is "
            "scaled up to --size (48x48 here) and stylised; a 1x1 style image too",
            id="one-pixel-gatys",
        ),
    ],
)  # fmt: skip
def test_gatys_stylises_a_one_pixel_photo(tmp_path, entry) -> None:
    places = _inputs(tmp_path)
    out = tmp_path / "out.png"
    assert run_cli("stylize", "--content", places["dot"], *GATYS, "--out", out) == 0
    assert Image.open(out).size == (48, 48)
    argv = ["--style-image", places["dot"], "--content", places["cat"], *GATYS]
    assert run_cli("stylize", *argv, "--out", out) == 0
    assert np.asarray(Image.open(out), np.float64).std() > 5
