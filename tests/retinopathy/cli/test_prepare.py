"""``python -m retinopathy prepare``: counts on screen, reuse, the sample set, one-line errors."""

from __future__ import annotations

from pathlib import Path

from retinopathy.__main__ import main
from retinopathy.data import synthetic


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
