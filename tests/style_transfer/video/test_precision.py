"""The video command's ``--precision``: bf16 frames within 1/255 mean of fp32 on a real clip,
the choice printed and reported, and ``make stylize-video ARGS=...`` passing it on."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from style_transfer.__main__ import main
from style_transfer.johnson.model_file import load_model
from style_transfer.styles import get_style
from style_transfer.video import stream
from style_transfer.video.codec import open_writer
from tests.style_transfer.video.clips import make_pan

ROOT = Path(__file__).resolve().parents[3]


def _frames_encoded(model, clip: Path, out: Path, monkeypatch) -> tuple[list, stream.VideoReport]:
    """The stylised frames as the pipeline hands them to the encoder, and the report.

    Before the encoder, not decoded from the file: H.264 at crf 18 alone moves a stylised
    161x121 frame by about 6/255 on average, which would drown the difference looked for."""
    seen: list[np.ndarray] = []

    def spying(*args, **kwargs):
        writer = open_writer(*args, **kwargs)
        write = writer.write
        writer.write = lambda rgb, index: (seen.append(rgb.copy()), write(rgb, index))[1]
        return writer

    monkeypatch.setattr(stream, "open_writer", spying)
    report = stream.transform_video(model, clip, out, progress=False)
    return seen, report


@pytest.mark.parametrize("style", ["starry", "mosaic"])
def test_bf16_frames_are_within_1_of_255_mean_of_fp32_on_a_real_clip(style, tmp_path, monkeypatch):
    clip = make_pan(tmp_path / "pan.mp4", frames=6)  # a pan across scikit-image's astronaut
    model, _ = load_model(get_style(style).model_path, device="cpu")
    fp32, report32 = _frames_encoded(model, clip, tmp_path / "fp32.mp4", monkeypatch)
    bf16, report16 = _frames_encoded(
        model.to(torch.bfloat16), clip, tmp_path / "bf16.mp4", monkeypatch
    )
    assert (report32.precision, report16.precision) == ("fp32", "bf16")
    assert len(fp32) == len(bf16) == 6
    diff = np.abs(np.stack(fp32).astype(int) - np.stack(bf16).astype(int))
    assert diff.mean() <= 1.0
    assert diff.max() > 0  # it really ran in bfloat16


def test_cli_prints_the_precision_and_the_threads(clip, tiny_model_file, tmp_path, capsys):
    out = tmp_path / "out.mp4"
    argv = ["video", str(clip), "--model", str(tiny_model_file), "--out", str(out)]
    assert main([*argv, "--precision", "bf16", "--threads", "1"]) == 0
    printed = capsys.readouterr()
    assert printed.err.splitlines()[0].endswith(", bf16")  # the model line
    assert "; bf16, threads: 1 network, 1 decode, 1 encode;" in printed.out


def test_fp16_on_a_cpu_without_it_is_one_line(clip, tiny_model_file, tmp_path, capsys, monkeypatch):
    monkeypatch.setattr("shared.precision.cpu_flags", lambda: frozenset({"avx2"}))
    argv = ["video", str(clip), "--model", str(tiny_model_file), "--out", str(tmp_path / "o.mp4")]
    assert main([*argv, "--precision", "fp16", "--device", "cpu"]) == 2
    assert "fp16 on this CPU would be emulated" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


@pytest.mark.skipif(shutil.which("make") is None, reason="GNU make is not installed")
def test_make_stylize_video_passes_the_precision_on():
    result = subprocess.run(
        ["make", "-n", "--no-print-directory", "-o", ".venv/.installed", f"PY={sys.executable}",
         "stylize-video", "VIDEO=clip.mp4", "ARGS=--precision bf16"],
        cwd=ROOT, capture_output=True, text=True, timeout=60, check=True,
    )  # fmt: skip
    command = " ".join(result.stdout.split())  # make leaves a space for each option unset
    assert "-m style_transfer video --style starry clip.mp4 --precision bf16" in command
