"""A style's network trained for video is preferred, and --compare-flicker tables three ways."""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import pytest
import torch

from style_transfer.__main__ import main
from style_transfer.johnson.model_file import save_model
from style_transfer.johnson.net import TransformerNet
from style_transfer.styles import STYLE_DIR, get_style, list_styles
from tests.style_transfer.video.clips import TINY


@pytest.fixture
def steady_style(tmp_path: Path) -> str:
    """A user style ``calm`` with a photo network and a different network 'trained for video'."""
    folder = Path(os.environ["XDG_DATA_HOME"]) / "visionlab" / "styles"
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copy(STYLE_DIR / "wave.jpg", folder / "calm.jpg")
    torch.manual_seed(0)
    save_model(folder / "calm.safetensors", TransformerNet(TINY), {"style": "calm"})
    torch.manual_seed(1)
    save_model(folder / "calm.steady.safetensors", TransformerNet(TINY), {"style": "calm steady"})
    yield "calm"
    shutil.rmtree(folder)


def test_the_video_command_prefers_the_network_trained_for_video(
    steady_style: str, short_clip: Path, tmp_path: Path, capsys
) -> None:
    assert get_style(steady_style).steady_model_path.name == "calm.steady.safetensors"
    assert list_styles().count("calm") == 1  # the steady file is not a style of its own
    out = tmp_path / "v.mp4"
    assert main(["video", str(short_clip), "--style", "calm", "--out", str(out)]) == 0
    assert "calm.steady.safetensors (calm steady)" in capsys.readouterr().err
    assert (
        main(["video", str(short_clip), "--style", "calm", "--per-frame", "--out", str(out)]) == 0
    )
    assert "calm.safetensors (calm)" in capsys.readouterr().err


def test_compare_flicker_runs_three_ways_and_tables_them(
    steady_style: str, short_clip: Path, tmp_path: Path, capsys
) -> None:
    out = tmp_path / "clip.mp4"
    argv = ["video", str(short_clip), "--style", "calm", "--compare-flicker", "--out", str(out)]
    assert main(argv) == 0
    table = (tmp_path / "clip-flicker.md").read_text()
    assert table in capsys.readouterr().out
    rows = re.findall(r"^\| (per frame[^|]*|trained[^|]*) \| ([\d.]+) \| ([\d.]+)x \| ([\d.]+) \|",
                      table, flags=re.M)  # fmt: skip
    assert [r[0].strip() for r in rows] == [
        "per frame", "per frame, --stabilize 0.5", "trained for video (temporal loss)",
    ]  # fmt: skip
    errors = [float(r[1]) for r in rows]
    assert rows[0][2] == "1.00" and errors[1] < errors[0]  # post-hoc blending steadies
    assert all(0 < float(r[3]) < 2 for r in rows)
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == ["clip-flicker.md", "clip.mp4", "clip.per-frame.mp4", "clip.stabilized.mp4"]


def test_compare_flicker_needs_a_style(tiny_model_file: Path, short_clip: Path, capsys) -> None:
    argv = ["video", str(short_clip), "--model", str(tiny_model_file), "--compare-flicker"]
    assert main(argv) == 2
    assert "give --style, not --model" in capsys.readouterr().err


def test_starry_ships_a_network_trained_for_video() -> None:
    steady = get_style("starry").steady_model_path
    assert steady is not None and steady.parent == STYLE_DIR / "models"
    assert get_style("wave").steady_model_path is None
    # a style image given under the name has no trained network, for video either
    assert get_style("starry", image=STYLE_DIR / "wave.jpg").steady_model_path is None
