"""Patient-level stratified train / val / test splits, saved as CSV and read back exactly."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from retinopathy.data.sources import Record
from retinopathy.data.splits import load_split, make_split, save_split, split_ids
from retinopathy.data.synthetic import SHARES, assign_grades
from shared.errors import UserError


def _eyepacs_records(n: int, seed: int = 0) -> list[Record]:
    """Records only (no photos): EyePACS-like patients, both eyes, correlated grades."""
    return [
        Record(Path(f"/data/train/{p}_{eye}.jpeg"), g, p, eye)
        for p, eye, g in assign_grades(n, seed)
    ]


@pytest.fixture(scope="module")
def records() -> list[Record]:
    return _eyepacs_records(12_000)


@pytest.fixture(scope="module")
def split(records) -> object:
    return make_split(records, seed=0)


def test_no_patient_on_two_sides(split) -> None:
    sides_per_patient = split.groupby("patient")["split"].nunique()
    assert (sides_per_patient == 1).all()
    assert split.groupby("patient").size().eq(2).all()  # both eyes present


def test_shares_and_class_balance(split) -> None:
    share = split["split"].value_counts(normalize=True)
    assert share["test"] == pytest.approx(0.25, abs=0.01)
    assert share["val"] == pytest.approx(0.75 * 0.25, abs=0.01)
    overall = split["grade"].value_counts(normalize=True).sort_index()
    np.testing.assert_allclose(overall, np.array(SHARES) / sum(SHARES), atol=0.001)
    for side in ("train", "val", "test"):
        part = split.loc[split["split"] == side, "grade"].value_counts(normalize=True).sort_index()
        assert np.abs(part - overall).max() < 0.01, (side, part.round(4).tolist())


def test_seeded_and_saved_exactly(tmp_path: Path, records, split) -> None:
    again = make_split(records, seed=0)
    assert (again["split"] == split["split"]).all()
    other = make_split(records, seed=1)
    assert (other["split"] != split["split"]).any()
    path = save_split(split, tmp_path / "run" / "split.csv")
    loaded = load_split(path)
    assert loaded["id"].tolist() == split["id"].tolist()
    assert loaded["split"].tolist() == split["split"].tolist()
    assert loaded["patient"].tolist() == split["patient"].tolist()
    assert split_ids(loaded, "test") == split.loc[split["split"] == "test", "id"].tolist()


def test_without_patients_every_photo_is_its_own_group() -> None:
    recs = [Record(Path(f"/a/{i}.png"), i % 5) for i in range(200)]
    df = make_split(recs, seed=3)
    assert df["split"].value_counts()["test"] == 50
    assert df["patient"].isna().all()


def test_missing_class_in_a_split_is_a_user_error(tmp_path: Path) -> None:
    recs = [Record(Path(f"/a/{i}.png"), 0 if i < 95 else 4) for i in range(100)]
    recs[-1] = Record(Path("/a/x.png"), 3)  # one grade 3 photo cannot be on three sides
    with pytest.raises(UserError, match=r"class '[12] \w+' has no photo"):
        make_split(recs)
    (tmp_path / "bad.csv").write_text("a,b\n1,2\n")
    with pytest.raises(UserError, match="not a split file"):
        load_split(tmp_path / "bad.csv")
    with pytest.raises(UserError, match="not found"):
        load_split(tmp_path / "none.csv")
