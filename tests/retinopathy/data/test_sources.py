"""Every dataset format read from a small folder with the real headers; bad rows rejected."""

from __future__ import annotations

from pathlib import Path

import pytest

from retinopathy.data.sources import detect_format, load_source, read_records
from shared.errors import UserError
from tests.retinopathy.fundus_data import write_eyepacs, write_photo


def _by_id(records):
    return {r.id: r for r in records}


def test_eyepacs_patients_eyes_and_grades(tmp_path: Path) -> None:
    write_eyepacs(tmp_path, {"10_left": 0, "10_right": 2, "13_left": 4, "13_right": 4})
    assert detect_format(tmp_path) == "eyepacs"
    recs = _by_id(read_records(tmp_path))
    assert set(recs) == {"10_left", "10_right", "13_left", "13_right"}
    assert (recs["10_right"].patient, recs["10_right"].eye, recs["10_right"].grade) == (
        "10",
        "right",
        2,
    )
    assert recs["13_left"].path == tmp_path / "train" / "13_left.jpeg"


def test_aptos(tmp_path: Path) -> None:
    for name in ("000c1434d8d7", "001639a390f0"):
        write_photo(tmp_path / "train_images" / f"{name}.png", size=64)
    (tmp_path / "train.csv").write_text("id_code,diagnosis\n000c1434d8d7,2\n001639a390f0,4\n")
    assert detect_format(tmp_path) == "aptos"
    recs = _by_id(read_records(tmp_path))
    assert recs["001639a390f0"].grade == 4
    assert recs["001639a390f0"].patient is None
    assert recs["000c1434d8d7"].path == tmp_path / "train_images" / "000c1434d8d7.png"


def test_messidor2_finds_images_anywhere_and_rejects_ungradable(tmp_path: Path) -> None:
    write_photo(tmp_path / "IMAGES" / "20051020_43808_0100_PP.png", size=64)
    write_photo(tmp_path / "IMAGES" / "IM002385.JPG", size=64)
    write_photo(tmp_path / "IMAGES" / "IM002386.JPG", size=64)
    (tmp_path / "messidor_data.csv").write_text(
        "image_id,adjudicated_dr_grade,adjudicated_dme,adjudicated_gradable\n"
        "20051020_43808_0100_PP.png,0.0,0.0,1\n"
        "IM002385.JPG,3.0,1.0,1\n"
        "IM002386.JPG,,,0\n"
    )
    assert detect_format(tmp_path) == "messidor2"
    source = load_source(tmp_path)
    recs = _by_id(source.records)
    assert set(recs) == {"20051020_43808_0100_PP.png", "IM002385.JPG"}
    assert recs["IM002385.JPG"].grade == 3
    assert recs["IM002385.JPG"].path == tmp_path / "IMAGES" / "IM002385.JPG"
    assert [p.id for p in source.rejected] == ["IM002386.JPG"]
    assert "ungradable" in source.rejected[0].reason


def test_idrid_train_and_test_share_names(tmp_path: Path) -> None:
    grading = tmp_path / "B. Disease Grading"
    write_photo(
        grading / "1. Original Images" / "a. Training Set" / "IDRiD_001.jpg", grade=3, size=64
    )
    write_photo(
        grading / "1. Original Images" / "b. Testing Set" / "IDRiD_001.jpg", grade=0, size=64
    )
    truth = grading / "2. Groundtruths"
    truth.mkdir(parents=True)
    header = "Image name,Retinopathy grade,Risk of macular edema \n"
    (truth / "a. IDRiD_Disease Grading_Training Labels.csv").write_text(header + "IDRiD_001,3,2\n")
    (truth / "b. IDRiD_Disease Grading_Testing Labels.csv").write_text(header + "IDRiD_001,0,0\n")
    assert detect_format(tmp_path) == "idrid"
    recs = _by_id(read_records(tmp_path))
    assert recs["train/IDRiD_001"].grade == 3
    assert "Training Set" in str(recs["train/IDRiD_001"].path)
    assert recs["test/IDRiD_001"].grade == 0
    assert "Testing Set" in str(recs["test/IDRiD_001"].path)


def test_generic_csv_as_file_or_folder(tmp_path: Path) -> None:
    write_photo(tmp_path / "imgs" / "a.jpg", size=64)
    write_photo(tmp_path / "imgs" / "b.jpg", size=64)
    table = tmp_path / "labels.csv"
    table.write_text("path,label,patient,eye\nimgs/a.jpg,1,p1,left\nimgs/b.jpg,2,p1,right\n")
    assert detect_format(table) == "csv"
    assert detect_format(tmp_path) == "csv"
    recs = _by_id(read_records(table))
    assert (recs["imgs/a.jpg"].grade, recs["imgs/a.jpg"].patient, recs["imgs/a.jpg"].eye) == (
        1,
        "p1",
        "left",
    )
    assert recs["imgs/b.jpg"].path == tmp_path / "imgs" / "b.jpg"


def test_class_folders(tmp_path: Path) -> None:
    write_photo(tmp_path / "0" / "x.jpg", size=64)
    write_photo(tmp_path / "4" / "y.png", size=64)
    write_photo(tmp_path / "7" / "z.png", size=64)  # not a grade
    assert detect_format(tmp_path) == "folder"
    source = load_source(tmp_path)
    assert {(r.id, r.grade) for r in source.records} == {("0/x.jpg", 0), ("4/y.png", 4)}
    assert [p.id for p in source.rejected] == ["7/z.png"]


def test_format_override_and_unknown_format(tmp_path: Path) -> None:
    write_photo(tmp_path / "0" / "x.jpg", size=64)
    (tmp_path / "labels.csv").write_text("path,label\n0/x.jpg,3\n")
    assert detect_format(tmp_path) == "csv"
    assert read_records(tmp_path, "folder")[0].grade == 0
    with pytest.raises(UserError, match="unknown format"):
        load_source(tmp_path, "kaggle")
    empty = tmp_path / "nothing"
    empty.mkdir()
    with pytest.raises(UserError, match="cannot tell the dataset format"):
        detect_format(empty)
    with pytest.raises(UserError, match="no such file"):
        detect_format(tmp_path / "missing")


def test_bad_rows_rejected_with_reasons(tmp_path: Path) -> None:
    write_eyepacs(tmp_path, {"1_left": 0, "1_right": 1})
    with open(tmp_path / "trainLabels.csv", "a") as f:
        f.write("2_left,7\n1_left,3\n../../etc/passwd,0\n3_left,x\n")
    source = load_source(tmp_path)
    assert [r.id for r in source.records] == ["1_left", "1_right"]
    reasons = {p.id: p.reason for p in source.rejected}
    assert "not a grade 0-4" in reasons["2_left"]
    assert "not a grade 0-4" in reasons["3_left"]
    assert "leaves the data folder" in reasons["../../etc/passwd"]
    dup = [p for p in source.rejected if p.id == "1_left"]
    assert len(dup) == 1 and "duplicate id (first at trainLabels.csv line 2)" in dup[0].reason


def test_empty_dataset_and_missing_columns_are_one_line_errors(tmp_path: Path) -> None:
    (tmp_path / "trainLabels.csv").write_text("image,level\n")
    (tmp_path / "train").mkdir()
    with pytest.raises(UserError, match="no usable photos"):
        load_source(tmp_path)
    (tmp_path / "trainLabels.csv").write_text("image,grade\n1_left,0\n")
    with pytest.raises(UserError, match="missing column"):
        load_source(tmp_path)
