"""The built-in sample set's manifest: EyePACS shares, correlated eyes, layout, reuse."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from retinopathy.data import synthetic
from retinopathy.data.sources import detect_format, load_source
from shared.errors import UserError


def test_grades_follow_eyepacs_shares_and_eyes_agree() -> None:
    labels = synthetic.assign_grades(20_000, seed=0)
    grades = np.array([g for _, _, g in labels])
    shares = np.array(synthetic.SHARES) / sum(synthetic.SHARES)  # 73/7/15/2.5/2 sum to 99.5
    np.testing.assert_allclose(np.bincount(grades) / grades.size, shares, atol=1e-4)
    left, right = grades[0::2], grades[1::2]
    assert 0.84 < (left == right).mean() < 0.90  # EyePACS: 87%
    assert np.abs(left - right).max() <= 4 and (np.abs(left - right) > 1).mean() < 0.03
    assert labels[:2] == [
        (labels[0][0], "left", labels[0][2]),
        (labels[0][0], "right", labels[1][2]),
    ]
    assert synthetic.assign_grades(40, 0) == synthetic.assign_grades(40, 0)
    assert set(np.bincount([g for *_, g in synthetic.assign_grades(40, 0)]).nonzero()[0]) == {
        0,
        1,
        2,
        3,
        4,
    }


def test_generate_layout_determinism_and_reuse(tmp_path: Path) -> None:
    root = synthetic.generate(
        tmp_path / "a", n_images=12, seed=3, size=96, workers=2, progress=False
    )
    assert detect_format(root) == "eyepacs"
    records = load_source(root).records
    assert len(records) == 12 and {r.eye for r in records} == {"left", "right"}
    assert len({r.patient for r in records}) == 6
    again = synthetic.generate(
        tmp_path / "b", n_images=12, seed=3, size=96, workers=1, progress=False
    )
    for r in records:
        assert r.path.read_bytes() == (again / "train" / r.path.name).read_bytes()
    stamp = [r.path.stat().st_mtime_ns for r in records]
    assert synthetic.generate(root, n_images=12, seed=3, size=96, progress=False) == root
    assert [r.path.stat().st_mtime_ns for r in records] == stamp  # reused, not redrawn
    with pytest.raises(UserError, match="another synthetic set"):
        synthetic.generate(root, n_images=14, seed=3, size=96, progress=False)
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("user data")
    with pytest.raises(UserError, match="not empty"):
        synthetic.generate(tmp_path / "mine", n_images=4, progress=False)


def test_every_photo_has_its_lesion_mask(tmp_path: Path) -> None:
    root = synthetic.generate(
        tmp_path / "s", n_images=12, seed=3, size=96, workers=2, progress=False
    )
    records = load_source(root).records
    assert {r.grade for r in records} >= {0, 1, 2}
    for r in records:
        path = synthetic.mask_path(r.path)
        assert path == root / "masks" / f"{r.path.stem}.png"
        raw = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
        assert raw.dtype == np.uint8 and raw.ndim == 2 and set(np.unique(raw)) <= {0, 255}
        assert raw.shape == cv2.imread(str(r.path)).shape[:2]  # the photo's size
        mask = synthetic.read_mask(path)
        assert (mask.sum() > 0) == (r.grade >= 1), r  # graded photos: lesions; grade 0: none
    assert synthetic.read_mask(tmp_path / "none.png") is None


def test_a_set_drawn_before_masks_gets_them_with_its_photos_untouched(tmp_path: Path) -> None:
    root = synthetic.generate(
        tmp_path / "s", n_images=6, seed=1, size=96, workers=1, progress=False
    )
    photos = sorted((root / "train").iterdir())
    before = {p.name: (p.read_bytes(), p.stat().st_mtime_ns) for p in photos}
    masks = {p.name: p.read_bytes() for p in (root / "masks").iterdir()}
    for p in (root / "masks").iterdir():
        p.unlink()
    (root / "masks").rmdir()  # the layout of a set drawn before masks existed
    assert synthetic.generate(root, n_images=6, seed=1, size=96, progress=False) == root
    assert {p.name: (p.read_bytes(), p.stat().st_mtime_ns) for p in photos} == before
    assert {p.name: p.read_bytes() for p in (root / "masks").iterdir()} == masks
