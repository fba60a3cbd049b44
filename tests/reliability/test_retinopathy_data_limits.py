"""Hostile datasets for ``retinopathy prepare`` and ``train``: links leaving the data folder,
photos too large to decode whole, and classes too small for the usual split shares."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from retinopathy.data.preprocess import load_and_preprocess, read_photo
from retinopathy.data.sources import Record
from retinopathy.data.splits import SPLITS, make_split
from retinopathy.tasks import GRADES, get_task
from shared.errors import UserError
from tests.helpers import photo as skimage_photo
from tests.reliability.corpus import case, one_line_error
from tests.reliability.dr_datasets import csv_dataset, huge_png, labelled, problems, run_prepare
from tests.retinopathy.fundus_data import write_photo

# -- links out of the data folder ------------------------------------------------------------


def _photo_link_out(root: Path) -> None:
    write_photo(root.parent / "elsewhere" / "secret.png", size=64)
    csv_dataset(root, {"a.png": None, "b.png": lambda p: p.symlink_to(
        root.parent / "elsewhere" / "secret.png")})  # fmt: skip


def _link_inside(root: Path) -> None:
    csv_dataset(root, {"a.png": None, "b.png": lambda p: p.symlink_to(root / "a.png")})


LINK_CASES = [
    case(
        "retinopathy prepare", "a photo that is a symbolic link to a file outside the data "
        "folder", "rejected: `labels.csv line 3: a link leading outside the data folder (to "
        "<target>)`; the file is never read, exit 0", _photo_link_out,
        message=r"^labels\.csv line 3: a link leading outside the data folder \(to .*secret\.png"
        r"\)$", id="link-photo-outside",
    ),
    case(
        "retinopathy prepare", "a photo that is a link to another photo of the same folder",
        "rejected: `labels.csv line 3: the same photo as labels.csv line 2`, exit 0",
        _link_inside, message=r"^labels\.csv line 3: the same photo as labels\.csv line 2$",
        id="link-photo-inside",
    ),
]  # fmt: skip


@pytest.mark.parametrize(("entry", "build"), LINK_CASES)
def test_a_linked_photo_is_rejected(tmp_path: Path, capsys, entry, build) -> None:
    build(tmp_path / "data")
    code, out, err = run_prepare(capsys, tmp_path / "data", tmp_path / "cache")
    assert code == 0, err
    assert "1 photos ready" in out
    listed = problems(tmp_path / "cache")
    assert list(listed) == ["b.png"] and entry.matches(listed["b.png"]), listed


@pytest.mark.parametrize(
    "entry",
    [
        case(
            "retinopathy prepare", "the label file is a symbolic link to a file outside the "
            "data folder", "exit 2: `<folder>/trainLabels.csv: the label file is a link leading "
            "outside the data folder (to <target>); copy it into the folder`",
            message=r"trainLabels\.csv: the label file is a link leading outside the data "
            r"folder \(to .*outside\.csv\)", id="link-label-file-outside",
        )
    ],
)  # fmt: skip
def test_a_linked_label_file_is_one_line(tmp_path: Path, capsys, entry) -> None:
    labelled(tmp_path / "data", "eyepacs", ["0", "1", "2"])
    real = tmp_path / "outside.csv"
    (tmp_path / "data" / "trainLabels.csv").rename(real)
    (tmp_path / "data" / "trainLabels.csv").symlink_to(real)
    code, _, err = run_prepare(capsys, tmp_path / "data", tmp_path / "cache")
    assert code == 2
    one_line_error(err, entry)


# -- huge photos -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "entry",
    [
        case(
            "retinopathy prepare", "an 8000x8000 PNG (64 MP: over the 50 MP a worker decodes "
            "at once; PNG has no reduced decode)", "rejected before decoding: `too large to "
            "decode: PNG 8000x8000 (64 MP); only JPEG is decoded at reduced size, other formats "
            "up to 50 MP: save it smaller or as JPEG`; the rest prepared, exit 0",
            message=r"^too large to decode: PNG 8000x8000 \(64 MP\); only JPEG is decoded at "
            r"reduced size, other formats up to 50 MP", id="huge-png",
        )
    ],
)  # fmt: skip
def test_a_huge_png_is_rejected_with_the_reason(tmp_path: Path, capsys, entry) -> None:
    data = csv_dataset(tmp_path / "data", {"good.png": None, "huge.png": None})
    huge_png(data / "huge.png", 8000, 8000)
    code, out, err = run_prepare(capsys, data, tmp_path / "cache")
    assert code == 0, err
    assert "1 photos ready" in out
    listed = problems(tmp_path / "cache")
    assert list(listed) == ["huge.png"] and entry.matches(listed["huge.png"]), listed


@pytest.mark.parametrize(
    "entry",
    [
        case(
            "retinopathy prepare", "a 9000x6000 JPEG (54 MP) whose eye is small in the frame",
            "decoded at 1/2 scale (4500x3000, 8-bit BGR) even for the sharp second look, never "
            "at full size: a worker's memory stays under the 50 MP bound", id="huge-jpeg",
        )
    ],
)  # fmt: skip
def test_a_huge_jpeg_is_decoded_reduced(tmp_path: Path, entry) -> None:
    frame = np.zeros((6000, 9000, 3), np.uint8)
    eye = skimage_photo("retina")  # 1411x1411: a real fundus photo
    frame[2300:3711, 3800:5211] = eye
    path = tmp_path / "huge.jpeg"
    Image.fromarray(frame).save(path, quality=90)
    image, factor, notes = read_photo(path, 512, reduce=False)  # the sharp second look
    assert (factor, image.shape, image.dtype, notes) == (2, (3000, 4500, 3), np.uint8, [])
    assert read_photo(path, 512)[0].shape == (750, 1125, 3)  # the first look: 1/8
    assert load_and_preprocess(path, 512).shape == (512, 512, 3)


# -- classes with few patients or photos -----------------------------------------------------


def records(*groups: tuple[int, ...], patients: bool = False) -> list[Record]:
    """One record per grade; a group of two is a patient's two eyes (``patients``)."""
    out = []
    for k, grades in enumerate(groups):
        for eye, grade in zip(("left", "right"), grades, strict=False):
            patient, side = (f"p{k}", eye) if patients else (None, None)
            out.append(Record(Path(f"/d/{len(out)}.png"), grade, patient, side))
    return out


COMMON = [(0,)] * 40 + [(1,)] * 10 + [(2,)] * 10 + [(4,)] * 10  # single-eye records
PAIRS = [(0, 0)] * 20 + [(1, 2)] * 6 + [(4, 4)] * 5  # both eyes of each patient

SPLIT_CASES = [
    case(
        "retinopathy train", "a grade with 4 photos in 4 single-eye records (25% test, 25% of "
        "the rest for validation)", "split 2/1/1: one photo of the grade on each side, though "
        "its share of val rounds to none", records(*COMMON, *[(3,)] * 4), (2, 1, 1),
        id="split-four-photos",
    ),
    case(
        "retinopathy train", "a grade held by 3 patients, both eyes each", "one patient on "
        "each side (both eyes together), never a patient on two sides",
        records(*PAIRS, *[(3, 3)] * 3, patients=True), (2, 2, 2), id="split-three-patients",
    ),
]  # fmt: skip


@pytest.mark.parametrize(("entry", "recs", "per_side"), SPLIT_CASES)
@pytest.mark.parametrize("seed", range(4))
def test_every_class_with_three_groups_reaches_every_side(entry, recs, per_side, seed) -> None:
    split = make_split(recs, seed=seed)
    assert (split.groupby("patient")["split"].nunique() == 1).all()
    for side, count in zip(SPLITS, per_side, strict=True):
        grades = split.loc[split["split"] == side, "grade"]
        assert set(grades) == set(GRADES), (side, sorted(set(grades)))
        assert (grades == 3).sum() == count
    assert (split["split"] == "test").mean() == pytest.approx(0.25, abs=0.03)


# Patients (a) and (b) hold grades 1 and 2, (c) 1 and 3, (d) 2 and 3, (e) grade 3 alone: every
# grade has three groups, but the 1s and 2s take three sides with (a), (b) and one of (c)/(d),
# and then (c) and (d) must share a side, so grade 3 reaches two.
KNOT = [(0, 0)] * 20 + [(4, 4)] * 5 + [(1, 2), (1, 2), (1, 3), (2, 3), (3,)]

REFUSED = [
    case(
        "retinopathy train", "a grade held by only 2 patients",
        "exit 2: `class '3 severe' has 2 patients/photos and train, val and test need one each: "
        "add photos or use a coarser task`", records(*PAIRS, *[(3, 3)] * 2, patients=True),
        message=r"^class '3 severe' has 2 patients/photos and train, val and test need one each",
        id="split-two-patients",
    ),
    case(
        "retinopathy train", "3 groups per grade, tied so that no split covers every grade "
        "(patients with grades 1+2, 1+2, 1+3, 2+3, and a lone 3)",
        "exit 2: `class '2 moderate': its patients also hold the only photos of other classes, "
        "so no split puts it on every side: ...`", records(*KNOT, patients=True),
        message=r"^class '\d \w+': its patients also hold the only photos of other classes",
        id="split-impossible",
    ),
    case(
        "retinopathy train --task referable", "2 photos in all", "exit 2: `only 2 "
        "patients/photos and train, val and test need one each`", records((0,), (3,)),
        message=r"^only 2 patients/photos and train, val and test need one each$",
        id="split-two-photos",
    ),
]  # fmt: skip


@pytest.mark.parametrize(("entry", "recs"), REFUSED)
def test_a_split_is_refused_only_where_none_exists(entry, recs) -> None:
    task = get_task("referable" if "referable" in entry.command else "grade5")
    with pytest.raises(UserError) as caught:
        make_split(recs, task=task)
    assert entry.matches(str(caught.value)), str(caught.value)
