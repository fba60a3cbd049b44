"""The built-in sample set's manifest: EyePACS shares, correlated eyes, layout, reuse."""

from __future__ import annotations

from pathlib import Path

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
