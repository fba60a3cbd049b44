"""The built-in synthetic set (layout, shares, correlated eyes, grade-monotone lesions, reuse)
and the ``python -m retinopathy prepare`` command end to end."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from retinopathy.__main__ import main
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


def _lesion_area(grade: int, seed: int) -> float:
    """Share of retina pixels the lesions changed (same anatomy drawn with and without them)."""
    e = synthetic._Eye(np.random.default_rng(seed), 256, "left")
    synthetic._background(e)
    synthetic._optic_disc(e)
    synthetic._vessels(e)
    before = e.image.copy()
    synthetic._lesions(e, grade)
    changed = np.abs(e.image.astype(int) - before).max(axis=2) > 12
    return changed.mean()


def test_lesions_grow_with_grade() -> None:
    area = {g: np.mean([_lesion_area(g, s) for s in range(6)]) for g in range(5)}
    assert area[0] == 0
    assert 0 < area[1] < area[2] < area[3]
    assert area[4] > area[2]


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


def test_photo_looks_like_a_fundus() -> None:
    image = synthetic.render(0, "right", 128, np.random.default_rng(1))
    assert image.dtype == np.uint8 and image.shape[0] == 128 and image.shape[1] >= 128
    corner = image[:4, :4].astype(int)
    assert corner.max() <= 8  # black outside the field stop
    centre = (
        image[54:74, image.shape[1] // 2 - 10 : image.shape[1] // 2 + 10].reshape(-1, 3).mean(0)
    )
    assert centre[0] > centre[1] > centre[2]  # orange-red retina


def test_prepare_command(tmp_path: Path, capsys) -> None:
    data = synthetic.generate(tmp_path / "data", n_images=8, size=96, progress=False)
    argv = ["prepare", str(data), "--size", "48", "--cache", str(tmp_path / "c"), "--workers", "1"]
    assert main(argv) == 0
    assert (
        "8 photos ready at 48 px (crop): 8 preprocessed, 0 from the cache"
        in capsys.readouterr().out
    )
    assert main(argv) == 0
    assert "0 preprocessed, 8 from the cache" in capsys.readouterr().out


def test_prepare_defaults_to_the_synthetic_set(tmp_path: Path, capsys) -> None:
    argv = ["prepare", "--size", "32", "--cache", str(tmp_path), "--synthetic-images", "6"]
    assert main(argv) == 0
    assert "6 photos ready" in capsys.readouterr().out
    assert (synthetic.default_root(6, cache_dir=tmp_path) / "manifest.json").exists()


def test_bad_input_is_one_line_with_exit_2(tmp_path: Path, capsys) -> None:
    (tmp_path / "empty").mkdir()
    for args, message in (
        ([str(tmp_path / "nowhere")], "no such file or folder"),
        ([str(tmp_path / "empty")], "cannot tell the dataset format"),
        ([str(tmp_path / "empty"), "--format", "eyepacs"], "not in eyepacs format"),
    ):
        assert main(["prepare", *args, "--cache", str(tmp_path / "c")]) == 2
        lines = capsys.readouterr().err.strip().splitlines()
        assert (
            len(lines) == 1 and lines[0].startswith("retinopathy: error:") and message in lines[0]
        )
