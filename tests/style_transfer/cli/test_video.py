"""``python -m style_transfer video``: fps, size, frame count and audio kept; bad input is one
line and leaves nothing behind."""

from __future__ import annotations

from pathlib import Path

import av
import pytest

from style_transfer.__main__ import main
from tests.style_transfer.video.clips import FRAMES, RATE, audio_track, decode, opencv_count


def run_cli(*argv: str) -> int:
    return main(list(argv))


def test_cli_keeps_fps_size_frame_count_and_audio(
    clip_with_audio, tiny_model_file, tmp_path, capsys
):
    out = tmp_path / "out.mp4"
    assert (
        run_cli("video", str(clip_with_audio), "--model", str(tiny_model_file), "--out", str(out))
        == 0
    )
    assert "30 frames, 161x121" in capsys.readouterr().out
    frames, rate = decode(out)
    assert rate == RATE  # exactly 30000/1001, not 29 or 30
    assert len(frames) == FRAMES and frames[0].shape == (121, 161, 3)
    assert opencv_count(out) == (FRAMES, pytest.approx(29.97003, abs=1e-4))
    codec, sample_rate, seconds = audio_track(out)
    assert (codec, sample_rate) == ("aac", 44100)
    assert seconds == pytest.approx(audio_track(clip_with_audio)[2], abs=0.03)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.mp4"]


def _empty_video(path: Path) -> Path:
    with av.open(str(path), "w") as out:
        stream = out.add_stream("mpeg4", rate=25)
        stream.width, stream.height = 64, 48
        out.start_encoding()
    return path


def _corrupt_model(tmp: Path, tiny_model_file: Path) -> Path:
    path = tmp / "broken.safetensors"
    path.write_bytes(tiny_model_file.read_bytes()[:5000])
    return path


@pytest.mark.parametrize(
    ("case", "message"),
    [
        ("missing", "video not found"),
        ("not_a_video", "cannot open video"),
        ("no_frames", "has no frames"),
        ("corrupt_model", "not a readable model file"),
        ("unknown_style", "unknown style 'nosuch'"),
        ("bad_strength", "strength must be in"),
    ],
)
def test_bad_input_is_one_line_and_leaves_nothing(
    case, message, clip, tiny_model_file, tmp_path, capsys
):
    work = tmp_path / "work"
    work.mkdir()
    video, model = clip, ["--model", str(tiny_model_file)]
    extra: list[str] = []
    if case == "missing":
        video = work / "nope.mp4"
    elif case == "not_a_video":
        video = work / "notes.mp4"
        video.write_text("this is not a video")
    elif case == "no_frames":
        video = _empty_video(work / "empty.mp4")
    elif case == "corrupt_model":
        model = ["--model", str(_corrupt_model(tmp_path, tiny_model_file))]
    elif case == "unknown_style":
        model = ["--style", "nosuch"]
    elif case == "bad_strength":
        extra = ["--stabilize", "1.5"]
    before = sorted(work.iterdir())
    out = work / "out.mp4"
    assert run_cli("video", str(video), *model, "--out", str(out), *extra) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("style_transfer: error: ") and message in err[-1]
    assert sorted(work.iterdir()) == before  # no output, no temporary file
