"""``python -m style_transfer stylize`` / ``styles``: outputs, the method seam, bad input."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from style_transfer.__main__ import main

REPO = Path(__file__).resolve().parents[3]
# Gatys settings; the bundled styles ship Johnson models, which METHOD=auto would pick
TINY = ["--size", "48", "--iters", "2", "--backbone", "efficientnet_lite0", "--method", "gatys"]


def run_cli(*argv: str) -> int:
    return main(list(argv))


def test_stylize_writes_image_plot_and_sheet(tmp_path: Path, capsys) -> None:
    out = tmp_path / "cat.png"
    assert (
        run_cli("stylize", "--style", "starry", "--content", "chelsea", "--out", str(out), *TINY)
        == 0
    )
    printed = capsys.readouterr().out
    assert "efficientnet_lite0 (ImageNet weights" in printed  # which network, which weights
    assert Image.open(out).size == (48, 32)  # chelsea is 451x300: aspect kept
    for suffix in ("-loss.png", "-sheet.png", "-config.json"):
        assert (tmp_path / f"cat{suffix}").is_file()
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []


def test_gatys_flags_choose_gatys_and_say_so(tmp_path: Path, capsys) -> None:
    out = tmp_path / "cat.png"
    auto = [a for a in TINY if a not in ("--method", "gatys")]  # starry has a Johnson model
    assert run_cli("stylize", "--style", "starry", "--content", "chelsea", "--out", str(out),
                   *auto) == 0  # fmt: skip
    printed = capsys.readouterr().out.splitlines()
    assert printed[0] == "--iters, --backbone given: Gatys (the style's Johnson model ignores them)"
    record = json.loads((tmp_path / "cat-config.json").read_text())
    assert record["method"] == "gatys" and record["gatys"]["iters"] == 2


def test_johnson_with_a_gatys_flag_is_one_line_exit_2(tmp_path: Path, capsys) -> None:
    argv = ["stylize", "--style", "starry", "--method", "johnson", "--scales", "64,128"]
    assert run_cli(*argv, "--out", str(tmp_path / "x.png")) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "--scales is an option of the gatys method" in err
    assert list(tmp_path.iterdir()) == []


def test_default_output_is_a_new_run_folder(tmp_path: Path, monkeypatch, capsys) -> None:
    monkeypatch.chdir(tmp_path)
    assert run_cli("stylize", *TINY) == 0
    (run,) = (tmp_path / "runs" / "style_transfer").iterdir()
    assert run.name.endswith("-starry")
    files = sorted(str(p.relative_to(run)) for p in run.rglob("*") if p.is_file())
    assert files == ["config.json", "plots/loss.png", "plots/sheet.png", "stylized.png"]
    assert json.loads((run / "config.json").read_text())["gatys"]["scales"] == [48]


def test_blend_of_two_style_images(tmp_path: Path, capsys) -> None:
    a, b = tmp_path / "a.png", tmp_path / "b.png"
    Image.fromarray(np.full((40, 40, 3), (20, 40, 200), np.uint8)).save(a)
    Image.fromarray(np.full((40, 40, 3), (240, 200, 30), np.uint8)).save(b)
    out = tmp_path / "mix.jpg"
    argv = [
        "stylize",
        "--style",
        "mine",
        "--style-image",
        str(a),
        "--style-image",
        str(b),
        "--style-weights",
        "0.7,0.3",
        "--out",
        str(out),
        *TINY,
    ]
    assert run_cli(*argv) == 0
    assert Image.open(out).format == "JPEG"


def _write_garbage(path: Path) -> Path:
    path.write_text("this is not an image")
    return path


BAD_INPUT = {
    "missing content": (["--content", "{tmp}/nope.jpg"], "image not found"),
    "unreadable content": (["--content", "{garbage}"], "cannot read image"),
    "unknown style": (["--style", "picasso"], "bundled styles: starry, wave, mosaic"),
    "missing style image": (["--style", "x", "--style-image", "{tmp}/none.png"], "not found"),
    "unreadable style image": (["--style", "x", "--style-image", "{garbage}"], "cannot read"),
    "size too small": (["--size", "8"], "too small"),
    "non-finite loss": (["--style-weight", "1e39"], "non-finite"),
    "johnson without a model": (
        ["--style", "mine", "--style-image", "{good}", "--method", "johnson"],
        "make train-style STYLE=mine",
    ),
    "blend weights mismatch": (["--style-weights", "0.5,0.5"], "style_weights"),
    "size and scales": (["--scales", "32,48"], "not both"),
    "negative weight": (["--tv-weight", "-1"], "tv_weight"),
}


@pytest.mark.parametrize("with_out", [True, False], ids=["out", "run-folder"])
@pytest.mark.parametrize("case", list(BAD_INPUT))
def test_bad_input_is_one_line_and_writes_nothing(
    tmp_path: Path, capsys, monkeypatch, case: str, with_out: bool
) -> None:
    monkeypatch.chdir(tmp_path)  # a default run folder would appear under ./runs
    extra, message = BAD_INPUT[case]
    garbage = _write_garbage(tmp_path / "garbage.png")
    good = tmp_path / "good.png"
    Image.fromarray(np.full((40, 40, 3), 128, np.uint8)).save(good)
    extra = [a.format(tmp=tmp_path, garbage=garbage, good=good) for a in extra]
    out = ["--out", str(tmp_path / "out" / "result.png")] if with_out else []
    assert run_cli("stylize", *out, *TINY, *extra) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1, err
    assert err.startswith("style_transfer: error: ") and message in err
    assert not (tmp_path / "out").exists()
    assert not (tmp_path / "runs").exists()


def test_bad_output_name_fails_before_any_work(tmp_path: Path, capsys) -> None:
    assert run_cli("stylize", "--out", str(tmp_path / "result.gif"), *TINY) == 2
    assert "must end in one of" in capsys.readouterr().err


def test_module_entry_point_exit_status(tmp_path: Path) -> None:
    """The real ``python -m style_transfer`` process: non-zero exit, one line, no file."""
    out = tmp_path / "x.png"
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.run(
        [sys.executable, "-m", "style_transfer", "stylize", "--style", "nope", "--out", str(out)],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=120,
    )
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [
        "style_transfer: error: unknown style 'nope'; bundled styles: starry, wave, mosaic "
        "(or give STYLE_IMAGE=path to use any image under that name)"
    ]
    assert not out.exists()
