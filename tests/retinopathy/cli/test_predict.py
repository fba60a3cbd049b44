"""``python -m retinopathy predict``: a CSV of grades, unreadable files listed, one-line errors."""

from __future__ import annotations

import sys
from pathlib import Path

import cv2
import pandas as pd
import pytest
import torch

from retinopathy.__main__ import main
from retinopathy.data import synthetic
from tests.helpers import photo


def test_predict_grades_the_real_retina_photo(trained, tmp_path: Path) -> None:
    run, _ = trained
    image = tmp_path / "retina.jpg"
    cv2.imwrite(str(image), cv2.cvtColor(photo("retina"), cv2.COLOR_RGB2BGR))
    out = tmp_path / "grades.csv"
    assert main(["predict", "--run-dir", str(run), str(image), "--out", str(out), "--tta"]) == 0
    df = pd.read_csv(out)
    assert list(df["id"]) == ["retina"]
    probs = df[[f"p_{k}" for k in range(5)]].to_numpy()
    assert probs.sum() == pytest.approx(1.0, abs=1e-3)
    assert df["grade"][0] == probs.argmax()
    assert list(df.columns) == [
        "id", "grade", "class", "p_0", "p_1", "p_2", "p_3", "p_4", "path", "model"
    ]  # fmt: skip


def test_predict_folder_skips_and_lists_unreadable_files(trained, tmp_path: Path, capsys) -> None:
    run, _ = trained
    folder = tmp_path / "photos"
    folder.mkdir()
    rgb = cv2.cvtColor(photo("retina"), cv2.COLOR_RGB2BGR)
    cv2.imwrite(str(folder / "7_left.jpeg"), rgb)
    cv2.imwrite(str(folder / "7_right.jpeg"), cv2.flip(rgb, 1))
    (folder / "broken.jpeg").write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    out = tmp_path / "grades.csv"
    code = main(["predict", "--run-dir", str(run), str(folder), "--out", str(out), "--fuse-eyes"])
    assert code == 0
    assert sorted(pd.read_csv(out)["id"]) == ["7_left", "7_right"]
    printed = capsys.readouterr().out
    assert "1 unreadable" in printed and "broken.jpeg" in printed


def test_default_output_goes_into_the_run(trained, tmp_path: Path) -> None:
    run, _ = trained
    image = tmp_path / "eye.png"
    cv2.imwrite(str(image), cv2.cvtColor(photo("retina"), cv2.COLOR_RGB2BGR))
    before = set((run / "predictions").glob("eye-*.csv"))
    assert main(["predict", "--run-dir", str(run), str(image)]) == 0
    (written,) = set((run / "predictions").glob("eye-*.csv")) - before
    assert list(pd.read_csv(written)["id"]) == ["eye"]
    written.unlink()


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["predict", "--run-dir", "{run}", "{tmp}/missing.jpg"], "does not exist"),
        (["predict", "--run-dir", "{run}", "{tmp}/bad.jpg"], "cannot read"),
        (["predict", "--run-dir", "{tmp}", "{tmp}/bad.jpg"], "not a run folder"),
    ],
)
def test_bad_input_is_one_line_and_writes_nothing(trained, tmp_path, capsys, argv, message):
    run, _ = trained
    (tmp_path / "bad.jpg").write_bytes(b"")
    before = sorted(p.name for p in tmp_path.iterdir())
    argv = [a.format(tmp=tmp_path, run=run) for a in argv]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == before


def test_absent_device_is_one_line(trained, tmp_path: Path, capsys, monkeypatch) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    run, _ = trained
    image = tmp_path / "eye.png"
    cv2.imwrite(str(image), cv2.cvtColor(photo("retina"), cv2.COLOR_RGB2BGR))
    out = tmp_path / "grades.csv"
    assert (
        main(["predict", "--run-dir", str(run), str(image), "--out", str(out), "--device", "cuda"])
        == 2
    )
    assert len(capsys.readouterr().err.strip().splitlines()) == 1
    assert not out.exists()


def test_explain_writes_a_heat_map_of_the_photos_size_beside_the_csv(trained, tmp_path) -> None:
    run, _ = trained
    rgb = photo("retina")
    cv2.imwrite(str(tmp_path / "retina.jpg"), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
    out = tmp_path / "grades.csv"
    argv = ["predict", "--run-dir", str(run), str(tmp_path / "retina.jpg"), "--out", str(out)]
    assert main([*argv, "--explain"]) == 0
    df = pd.read_csv(out)
    assert list(df["explain"]) == ["explain/retina.png"]
    assert list(df.columns[-2:]) == ["explain", "model"]
    heat = cv2.imread(str(tmp_path / "explain" / "retina.png"))
    assert heat.shape == rgb.shape  # the photo's own size, not the model's
    assert (heat != cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)).any()  # something is coloured


def test_explain_referable_over_a_folder(trained, tmp_path: Path) -> None:
    run, _ = trained
    folder = tmp_path / "photos"
    folder.mkdir()
    rgb = cv2.cvtColor(photo("retina"), cv2.COLOR_RGB2BGR)[::4, ::4]
    cv2.imwrite(str(folder / "3_left.jpeg"), rgb)
    cv2.imwrite(str(folder / "3_right.png"), cv2.flip(rgb, 1))
    out = tmp_path / "out" / "grades.csv"
    argv = ["predict", "--run-dir", str(run), str(folder), "--out", str(out)]
    assert main([*argv, "--explain", "referable"]) == 0
    df = pd.read_csv(out).set_index("id")
    assert df.loc["3_right", "explain"] == "explain/3_right.png"
    for name in ("3_left", "3_right"):
        assert cv2.imread(str(out.parent / "explain" / f"{name}.png")).shape == rgb.shape


def test_explain_without_captum_is_one_line_and_writes_nothing(
    trained, tmp_path: Path, capsys, monkeypatch
) -> None:
    run, _ = trained
    monkeypatch.setitem(sys.modules, "captum.attr", None)
    cv2.imwrite(str(tmp_path / "eye.png"), cv2.cvtColor(photo("retina"), cv2.COLOR_RGB2BGR))
    before = sorted(p.name for p in tmp_path.iterdir())
    out = tmp_path / "grades.csv"
    argv = ["predict", "--run-dir", str(run), str(tmp_path / "eye.png"), "--out", str(out)]
    assert main([*argv, "--explain"]) == 2
    err = capsys.readouterr().err.strip()
    assert "pip install captum" in err and len(err.splitlines()) == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == before


def test_predict_in_bf16_grades_as_fp32_within_rounding(trained, tmp_path: Path) -> None:
    run, cache = trained
    photos = sorted(synthetic.default_root(400, size=128, cache_dir=cache).rglob("*.jpeg"))[:32]
    folder = tmp_path / "photos"
    folder.mkdir()
    for p in photos:
        (folder / p.name).symlink_to(p)
    tables = {}
    for precision in ("fp32", "bf16"):
        out = tmp_path / f"{precision}.csv"
        argv = ["predict", "--run-dir", str(run), str(folder), "--out", str(out)]
        assert main([*argv, "--precision", precision]) == 0
        tables[precision] = pd.read_csv(out)
    fp32, bf16 = tables["fp32"], tables["bf16"]
    assert list(fp32["id"]) == list(bf16["id"]) and len(fp32) == len(photos)
    assert (fp32["grade"] == bf16["grade"]).mean() >= 0.9  # a borderline photo may flip
    columns = [f"p_{k}" for k in range(5)]
    assert abs(fp32[columns] - bf16[columns]).to_numpy().max() < 0.02  # bf16: 8 mantissa bits
