"""``--device cuda|mps`` where there is none: one line, exit status 2, nothing created, in every
style-transfer command. CUDA and MPS are hidden, so the test means the same on any machine."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from style_transfer.__main__ import main
from style_transfer.styles import user_style_dir
from tests.style_transfer.johnson.training_setup import tiny_args

MESSAGES = {
    "cuda": "style_transfer: error: --device cuda was asked for, but no CUDA device is available",
    "mps": "style_transfer: error: --device mps was asked for, but MPS is not available",
}


def commands(tmp: Path, photos_dir: Path, style_png: Path, clip: Path) -> dict[str, list[str]]:
    """Each command as a user would type it, writing into ``tmp`` (or the run folder default)."""
    return {
        "stylize gatys": ["stylize", "--method", "gatys", "--size", "48", "--iters", "1"],
        "stylize johnson": ["stylize", "--method", "johnson", "--style", "wave"],
        "stylize johnson to a file": ["stylize", "--style", "wave", "--out", f"{tmp}/cat.png"],
        "train": [
            "train",
            "--style",
            "mine",
            *tiny_args(photos_dir, style_png),
            "--run",
            f"{tmp}/R",
        ],
        "train, default run folder": [
            "train",
            "--style",
            "mine",
            *tiny_args(photos_dir, style_png),
        ],
        "video": ["video", str(clip), "--style", "starry", "--out", f"{tmp}/out.mp4"],
        "video, default output": ["video", str(tmp / "clip.mp4"), "--style", "starry"],
        "styles": ["styles", "--out", f"{tmp}/styles.png"],
    }


def snapshot(*roots: Path) -> dict[Path, bytes | None]:
    return {
        p: (p.read_bytes() if p.is_file() else None)
        for root in roots
        if root.exists()
        for p in root.rglob("*")
    }


CASES = ["stylize gatys", "stylize johnson", "stylize johnson to a file", "train",
         "train, default run folder", "video", "video, default output", "styles"]  # fmt: skip


@pytest.mark.parametrize("device", ["cuda", "mps"])
@pytest.mark.parametrize("case", CASES)
def test_absent_device_is_one_line_and_creates_nothing(
    case, device, tmp_path, monkeypatch, capsys, photos_dir, style_png, short_clip
) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)
    monkeypatch.chdir(tmp_path)  # a default run folder would appear under ./runs
    (tmp_path / "clip.mp4").write_bytes(short_clip.read_bytes())
    argv = commands(tmp_path, photos_dir, style_png, short_clip)[case]
    before = snapshot(tmp_path, user_style_dir(), short_clip.parent)
    capsys.readouterr()
    assert main([*argv, "--device", device]) == 2
    captured = capsys.readouterr()
    assert captured.err.strip().splitlines() == [MESSAGES[device]]
    assert snapshot(tmp_path, user_style_dir(), short_clip.parent) == before
