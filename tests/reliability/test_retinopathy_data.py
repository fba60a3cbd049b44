"""Hostile datasets for ``retinopathy prepare``: label files of every format, photos, folders.

Each dataset is written here, small, in the real layout of its format; the command runs in this
process, and what a user gets is checked: the one error line, or the reasons that
``problems.csv`` lists while the usable photos are prepared.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from retinopathy.data.preprocess import load_and_preprocess
from tests.reliability.corpus import case, one_line_error
from tests.reliability.dr_datasets import LAYOUTS, csv_dataset, labelled, problems, run_prepare
from tests.retinopathy.fundus_data import photo, write_photo

# -- label files (every format) --------------------------------------------------------------

ROW_CASES = [
    case(
        "retinopathy prepare", "a label-file row that stops before its grade (each format)",
        "the row is rejected in problems.csv as `<file> line 3: no value for <grade column>`; "
        "the other rows are prepared, exit 0",
        ["0", None, "1"], 2, r"line 3: no value for {grade}", id="label-row-missing-field",
    ),
    case(
        "retinopathy prepare", "grades 2.5 and 7 in the label file (each format)",
        "each row is rejected as `<file> line N: label '7' is not a grade 0-4`; the rest is "
        "prepared, exit 0",
        ["0", "2.5", "7"], 1, r"line 3: label '2.5' is not a grade 0-4", id="label-bad-grade",
    ),
]  # fmt: skip


@pytest.mark.parametrize("fmt", list(LAYOUTS))
@pytest.mark.parametrize(("entry", "grades", "kept", "reason"), ROW_CASES)
def test_a_bad_row_is_rejected_with_its_line(
    tmp_path: Path, capsys, fmt, entry, grades, kept, reason
) -> None:
    labelled(tmp_path / "data", fmt, grades)
    code, out, err = run_prepare(capsys, tmp_path / "data", tmp_path / "cache", "--format", fmt)
    assert code == 0, err
    assert f"{kept} photos ready" in out
    found = "\n".join(problems(tmp_path / "cache").values())
    assert entry.matches(found)
    assert LAYOUTS[fmt].table.rsplit("/", 1)[-1] in found
    assert re.search(reason.format(grade=LAYOUTS[fmt].grade), found), found


def _latin1(table: Path) -> None:
    lines = table.read_bytes().split(b"\n")
    lines[2] = "\xe9".encode("latin-1") + lines[2]  # line 3 names a photo with an accent
    table.write_bytes(b"\n".join(lines))


FILE_CASES = [
    case(
        "retinopathy prepare", "a label file in Latin-1, not UTF-8 (each format)",
        "exit 2: `<file>: not UTF-8 text (byte 0xe9 on line 3); save the label file as UTF-8`",
        _latin1, None, message=r"not UTF-8 text \(byte 0xe9 on line 3\)", id="label-not-utf8",
    ),
    case(
        "retinopathy prepare", "an empty label file (0 bytes; each format)",
        "exit 2: `<file>: empty label file (no header row)` (IDRiD: no grading CSV in the "
        "folder)",
        lambda t: t.write_bytes(b""), None,
        message=r"empty label file \(no header row\)|no IDRiD grading CSV", id="label-empty",
    ),
    case(
        "retinopathy prepare", "a label file without its grade column (each format)",
        "exit 2: `<file>: missing column(s) <grade column>`", None, "{name},grade_typo",
        message=r"missing column\(s\) ", id="label-missing-column",
    ),
]  # fmt: skip


@pytest.mark.parametrize("fmt", list(LAYOUTS))
@pytest.mark.parametrize(("entry", "spoil", "header"), FILE_CASES)
def test_a_bad_label_file_is_one_line(tmp_path: Path, capsys, fmt, entry, spoil, header) -> None:
    name = LAYOUTS[fmt].header.split(",")[0]
    table = labelled(tmp_path / "data", fmt, ["0", "1", "2"], header and header.format(name=name))
    if spoil:
        spoil(table)
    code, _, err = run_prepare(capsys, tmp_path / "data", tmp_path / "cache", "--format", fmt)
    assert code == 2
    line = one_line_error(err, entry)
    if "IDRiD" not in line:
        assert table.name in line


# -- photos and folders ----------------------------------------------------------------------


def _sixteen_bit_grey(path: Path) -> None:
    Image.fromarray(photo(size=64)[..., 0].astype(np.uint16) * 257).save(path)


def _cmyk(path: Path) -> None:
    Image.fromarray(photo(size=64)).convert("CMYK").save(path, quality=95)


def _grey(path: Path) -> None:
    Image.fromarray(photo(size=64)[..., 0]).save(path)


def _grey_as_rgb(path: Path) -> None:
    Image.fromarray(np.repeat(photo(size=64)[..., :1], 3, axis=2)).save(path)


def _rgb_jpeg(path: Path) -> None:
    Image.fromarray(photo(size=64)).save(path, quality=95)


PHOTO_CASES = [
    case(
        "retinopathy prepare", "a zero-byte photo", "rejected: `empty file (0 bytes)`; the rest "
        "prepared, exit 0", {"bad.png": lambda p: p.write_bytes(b"")}, "bad.png", None,
        message=r"^empty file \(0 bytes\)$", id="photo-zero-bytes",
    ),
    case(
        "retinopathy prepare", "a text file named .jpeg", "rejected: `not an image (unrecognised "
        "or damaged header)`, exit 0", {"bad.jpeg": lambda p: p.write_text("hello\n" * 9)},
        "bad.jpeg", None, message=r"^not an image", id="photo-text-as-jpeg",
    ),
    case(
        "retinopathy prepare", "a label row naming a photo that does not exist",
        "rejected: `file not found`, exit 0", {"gone.png": lambda p: None}, "gone.png", None,
        message=r"^file not found$", id="photo-missing-file",
    ),
    case(
        "retinopathy prepare", "a folder named like a photo (d.png/)",
        "rejected: `cannot read file (Is a directory)`, exit 0", {"d.png": Path.mkdir}, "d.png",
        None,
        message=r"^cannot read file \(Is a directory\)$", id="photo-folder-as-photo",
    ),
    case(
        "retinopathy prepare", "a 16-bit greyscale PNG", "kept, listed as converted "
        "(`greyscale (I;16): copied to 3 channels; 16-bit: scaled to 8 bits`), the same pixels "
        "as its 8-bit twin, not white", {"deep.png": _sixteen_bit_grey}, "deep.png", (_grey, 0),
        message=r"greyscale \(I;16\).*16-bit: scaled to 8 bits", id="photo-16-bit-grey",
    ),
    case(
        "retinopathy prepare", "a CMYK JPEG", "kept, listed as converted (`CMYK: converted to "
        "RGB`), colours within 3 grey levels of the RGB photo", {"cmyk.jpeg": _cmyk},
        "cmyk.jpeg", (_rgb_jpeg, 3), message=r"^CMYK: converted to RGB$", id="photo-cmyk",
    ),
    case(
        "retinopathy prepare", "an 8-bit greyscale PNG", "kept, listed as converted "
        "(`greyscale (L): copied to 3 channels`), the pixels of the photo in RGB",
        {"grey.png": _grey}, "grey.png", (_grey_as_rgb, 0),
        message=r"^greyscale \(L\): copied to 3 channels$", id="photo-grey",
    ),
]  # fmt: skip


@pytest.mark.parametrize(("entry", "files", "name", "twin"), PHOTO_CASES)
def test_a_bad_or_odd_photo_is_listed_and_the_rest_prepared(
    tmp_path: Path, capsys, entry, files, name, twin
) -> None:
    data = csv_dataset(tmp_path / "data", {"good.png": None, **files})
    code, out, err = run_prepare(capsys, data, tmp_path / "cache")
    assert code == 0, err
    listed = problems(tmp_path / "cache")
    assert set(listed) == {name}
    assert entry.matches(listed[name]), listed
    assert f"{1 if twin is None else 2} photos ready" in out
    if twin:  # a converted photo keeps its pixels: as its plain twin's, not white or inverted
        write, tolerance = twin
        write(tmp_path / f"twin{Path(name).suffix}")
        mine, plain = (
            load_and_preprocess(p, 32) for p in (data / name, tmp_path / f"twin{Path(name).suffix}")
        )
        assert np.abs(mine.astype(int) - plain).mean() <= tolerance


def _eyepacs_twins(root: Path) -> None:
    write_photo(root / "train" / "1_left.jpeg", size=64)
    write_photo(root / "train" / "1_left.png", size=64, seed=3)
    write_photo(root / "train" / "2_left.jpeg", size=64, seed=4)
    (root / "trainLabels.csv").write_text("image,level\n1_left,1\n2_left,0\n")


def _messidor_twins(root: Path) -> None:
    write_photo(root / "IMAGES" / "x" / "a.png", size=64)
    write_photo(root / "IMAGES" / "y" / "a.png", size=64, seed=3)
    write_photo(root / "IMAGES" / "b.png", size=64, seed=4)
    (root / "messidor_data.csv").write_text(
        "image_id,adjudicated_dr_grade,adjudicated_dme,adjudicated_gradable\na.png,1,0,1\n"
        "b.png,0,0,1\n"
    )


def _listed_twice(root: Path) -> None:
    csv_dataset(root, {"a.png": None, "b.png": None})
    with open(root / "labels.csv", "a") as f:
        f.write("./a.png,1\n")


def _nul_in_name(root: Path) -> None:
    csv_dataset(root, {"a.png": None, "b.png": None})
    with open(root / "labels.csv", "ab") as f:
        f.write(b"c\0.png,1\n")


NAME_CASES = [
    case(
        "retinopathy prepare", "two photos answering to one EyePACS name (1_left.jpeg and "
        "1_left.png)", "the row is rejected: `trainLabels.csv line 2: 2 photos answer to "
        "'1_left' (train/1_left.jpeg, train/1_left.png)`; neither is guessed, exit 0",
        _eyepacs_twins, message=r"line 2: 2 photos answer to '1_left' \(train/1_left\.jpeg, "
        r"train/1_left\.png\)", id="names-ambiguous-eyepacs",
    ),
    case(
        "retinopathy prepare", "two Messidor-2 photos of one name in two sub-folders",
        "the row is rejected: `messidor_data.csv line 2: 2 photos answer to 'a.png' "
        "(IMAGES/x/a.png, IMAGES/y/a.png)`, exit 0", _messidor_twins,
        message=r"line 2: 2 photos answer to 'a\.png' \(IMAGES/x/a\.png, IMAGES/y/a\.png\)",
        id="names-ambiguous-messidor",
    ),
    case(
        "retinopathy prepare", "one photo listed twice under two names (a.png, ./a.png)",
        "the second row is rejected: `labels.csv line 4: the same photo as labels.csv line 2` "
        "(it would sit on two sides of the split), exit 0", _listed_twice,
        message=r"line 4: the same photo as labels\.csv line 2", id="names-same-photo-twice",
    ),
    case(
        "retinopathy prepare", "a NUL byte in a photo name of the label file", "the row is "
        "rejected: `labels.csv line 4: NUL byte in the name`, exit 0", _nul_in_name,
        message=r"^labels\.csv line 4: NUL byte in the name$", id="names-nul-byte",
    ),
]  # fmt: skip


@pytest.mark.parametrize(("entry", "build"), NAME_CASES)
def test_a_photo_named_ambiguously_is_rejected(tmp_path: Path, capsys, entry, build) -> None:
    build(tmp_path / "data")
    code, out, err = run_prepare(capsys, tmp_path / "data", tmp_path / "cache")
    assert code == 0, err
    listed = problems(tmp_path / "cache")
    assert len(listed) == 1 and entry.matches(next(iter(listed.values()))), listed
    assert "photos ready" in out


def _all_unreadable(root: Path) -> None:
    csv_dataset(root, {"a.png": lambda p: p.write_bytes(b""), "b.jpeg": lambda p: p.write_text(
        "x")})  # fmt: skip


FOLDER_CASES = [
    case(
        "retinopathy prepare", "a data folder that does not exist",
        "exit 2: `<folder>: no such file or folder`", lambda root: None,
        message=r"data: no such file or folder$", id="folder-missing",
    ),
    case(
        "retinopathy prepare", "an empty data folder", "exit 2: `<folder>: cannot tell the "
        "dataset format (looked for trainLabels.csv, ...); pass --format {...}`", Path.mkdir,
        message=r"cannot tell the dataset format .* pass --format", id="folder-empty",
    ),
    case(
        "retinopathy prepare", "a label file with a header and no rows",
        "exit 2: `<folder>: no usable photos in csv format: none listed`",
        lambda root: csv_dataset(root, {}), message=r"no usable photos in csv format: none "
        "listed", id="folder-no-rows",
    ),
    case(
        "retinopathy prepare", "a folder where no photo is readable",
        "exit 2: `none of the 2 photos could be used (a.png: empty file (0 bytes); b.jpeg: not "
        "an image ...); see <cache>/problems.csv`", _all_unreadable,
        message=r"none of the 2 photos could be used \(a\.png: empty file \(0 bytes\); b\.jpeg: "
        r"not an image.*\); see .*problems\.csv", id="folder-none-readable",
    ),
]  # fmt: skip


@pytest.mark.parametrize(("entry", "build"), FOLDER_CASES)
def test_a_folder_with_nothing_usable_is_one_line(tmp_path: Path, capsys, entry, build) -> None:
    build(tmp_path / "data")
    code, _, err = run_prepare(capsys, tmp_path / "data", tmp_path / "cache")
    assert code == 2
    one_line_error(err, entry)
