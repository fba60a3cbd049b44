"""Video: frame rate, size, frame count and audio survive; colours in order; stabilisation; errors.

    .venv/bin/python -m pytest tests/style_transfer/test_video.py -q

The clips are a 30-frame pan across scikit-image's astronaut at 29.97 fps (30000/1001) and an
odd size (161x121), made with PyAV; one has an AAC sine tone. Networks are small and untrained.
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np
import pytest
import torch
from torch import nn

from shared.cli import main
from style_transfer import video as video_mod
from style_transfer import video_io
from style_transfer.stylize import stylize_images
from style_transfer.temporal import motion_between, warping_error
from style_transfer.transformer_net import NetConfig, TransformerNet, save_model
from tests.helpers import photo

RATE = Fraction(30000, 1001)
FRAMES = 30
TINY = NetConfig(widths=(4, 8, 16), residual_blocks=1)  # plumbing tests: any network will do


def make_pan(
    path: Path,
    width: int = 161,
    height: int = 121,
    audio: str | None = None,
    frames: int = FRAMES,
) -> Path:
    """A camera pan across a real photo (2 px down, 3 px right per frame), H.264 4:4:4,
    with a 440 Hz tone in the ``audio`` codec if given."""
    picture = photo("astronaut")
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=RATE, options={"crf": "10"})
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv444p"
        tone = out.add_stream(audio, rate=44100) if audio else None
        for i in range(frames):
            crop = picture[60 + 2 * i : 60 + 2 * i + height, 120 + 3 * i : 120 + 3 * i + width]
            out.mux(stream.encode(av.VideoFrame.from_ndarray(np.ascontiguousarray(crop), "rgb24")))
        out.mux(stream.encode(None))
        if tone is not None:
            t = np.arange(int(44100 * frames / RATE)) / 44100
            samples = (0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
            for k in range(0, len(samples), 1024):
                frame = av.AudioFrame.from_ndarray(samples[None, k : k + 1024], "flt", "mono")
                frame.sample_rate = 44100
                out.mux(tone.encode(frame))
            out.mux(tone.encode(None))
    return path


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_pan(tmp_path_factory.mktemp("clips") / "pan.mp4")


@pytest.fixture(scope="module")
def clip_with_audio(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_pan(tmp_path_factory.mktemp("clips") / "pan_audio.mp4", audio="aac")


@pytest.fixture(scope="module")
def model_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("models") / "small.safetensors"
    return save_model(path, TransformerNet(TINY), {"style": "test"})


def decode(path: Path) -> tuple[list[np.ndarray], Fraction]:
    """All frames (RGB) and the frame rate, as PyAV reads them."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        frames = [f.to_ndarray(format="rgb24") for f in container.decode(stream)]
        return frames, stream.average_rate


def audio_track(path: Path) -> tuple[str, int, float] | None:
    with av.open(str(path)) as container:
        if not container.streams.audio:
            return None
        stream = container.streams.audio[0]
        samples = sum(f.samples for f in container.decode(stream))
        return stream.codec_context.name, stream.rate, samples / stream.rate


def opencv_count(path: Path) -> tuple[int, float]:
    capture = cv2.VideoCapture(str(path))
    n = 0
    while capture.read()[0]:
        n += 1
    fps = capture.get(cv2.CAP_PROP_FPS)
    capture.release()
    return n, fps


def run_cli(*argv: str) -> int:
    return main("style_transfer", "", {"video": "style_transfer.cli.video"}, list(argv))


def test_cli_keeps_fps_size_frame_count_and_audio(clip_with_audio, model_file, tmp_path, capsys):
    out = tmp_path / "out.mp4"
    assert (
        run_cli("video", str(clip_with_audio), "--model", str(model_file), "--out", str(out)) == 0
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


def test_audio_mp4_cannot_carry_is_transcoded_to_aac(tmp_path) -> None:
    source = make_pan(tmp_path / "pcm.mov", audio="pcm_s16le", frames=8)
    report = video_mod.stylize_video(DropBlue(), source, tmp_path / "o.mp4", progress=False)
    assert report.audio == "pcm_s16le transcoded to aac"
    codec, sample_rate, seconds = audio_track(tmp_path / "o.mp4")
    assert (codec, sample_rate) == ("aac", 44100)
    assert seconds == pytest.approx(audio_track(source)[2], abs=0.05)


class DropBlue(nn.Module):
    """Keeps red and green, zeroes blue: shows which channel the network received as blue."""

    def __init__(self) -> None:
        super().__init__()
        self.gain = nn.Parameter(torch.tensor([1.0, 1.0, 0.0]).view(1, 3, 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.gain


def test_frames_reach_the_network_as_rgb(clip, tmp_path) -> None:
    """The trap: OpenCV decodes BGR; fed as RGB, the red channel would be the one dropped."""
    report = video_mod.stylize_video(DropBlue(), clip, tmp_path / "o.mp4", progress=False)
    assert report.frames == FRAMES
    frames_in, _ = decode(clip)
    frames_out, _ = decode(tmp_path / "o.mp4")
    mean_in = np.mean(frames_in, axis=(0, 1, 2))
    mean_out = np.mean(frames_out, axis=(0, 1, 2))
    assert mean_out[2] < 8  # blue is gone ...
    assert abs(mean_out[0] - mean_in[0]) < 4 and abs(mean_out[1] - mean_in[1]) < 4  # red kept


class Flickering(nn.Module):
    """A network plus fresh noise on every frame: the flicker stabilisation has to calm."""

    def __init__(self, net: nn.Module, sigma: float) -> None:
        super().__init__()
        self.net, self.sigma = net, sigma
        self.noise = torch.Generator().manual_seed(5)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.net(x)
        noise = torch.randn(y.shape, generator=self.noise) * self.sigma
        return (y + noise.to(y.device)).clamp(0, 1)


def test_stabilised_video_flickers_less_without_smearing(tmp_path) -> None:
    clip = make_pan(tmp_path / "short.mp4", frames=16)
    torch.manual_seed(1)
    net = TransformerNet(TINY).eval()
    shaky = video_mod.stylize_video(Flickering(net, 0.06), clip, tmp_path / "a.mp4", progress=False)
    steady = video_mod.stylize_video(
        Flickering(net, 0.06), clip, tmp_path / "b.mp4", stabilize=0.6, progress=False
    )
    assert steady.warping_error < 0.5 * shaky.warping_error
    # measured again, from the files, with the flow of the input frames
    frames_in, _ = decode(clip)
    measured = {}
    for name in ("a", "b"):
        out, _ = decode(tmp_path / f"{name}.mp4")
        measured[name] = np.mean(
            [
                warping_error(out[t], out[t - 1], motion_between(frames_in[t - 1], frames_in[t]))
                for t in range(1, len(frames_in))
            ]
        )
    assert measured["b"] < 0.5 * measured["a"]
    # and closer to the noise-free stylisation, not further: the noise is averaged away along
    # the motion, not smeared (a frozen or misaligned blend would move away from it)
    clean = np.stack(stylize_images(net, frames_in)).astype(np.float64)
    distance = {n: np.abs(np.stack(decode(tmp_path / f"{n}.mp4")[0]) - clean).mean() for n in "ab"}
    assert distance["b"] < distance["a"]


def test_mp4v_fallback_keeps_count_and_size_and_warns_about_audio(tmp_path) -> None:
    even = make_pan(tmp_path / "even.mp4", width=160, height=120, audio="aac")
    with pytest.warns(UserWarning) as caught:
        report = video_mod.stylize_video(
            DropBlue(), even, tmp_path / "o.mp4", codec="mp4v", progress=False
        )
    messages = " | ".join(str(w.message) for w in caught)
    assert "aac audio track is dropped" in messages and "30000/1001 fps as a decimal" in messages
    assert report.audio == "dropped"
    n, fps = opencv_count(tmp_path / "o.mp4")
    assert n == FRAMES and fps == pytest.approx(float(RATE), abs=1e-3)
    assert decode(tmp_path / "o.mp4")[0][0].shape == (120, 160, 3)


def _empty_video(path: Path) -> Path:
    with av.open(str(path), "w") as out:
        stream = out.add_stream("mpeg4", rate=25)
        stream.width, stream.height = 64, 48
        out.start_encoding()
    return path


def _corrupt_model(tmp: Path, model_file: Path) -> Path:
    path = tmp / "broken.safetensors"
    path.write_bytes(model_file.read_bytes()[:5000])
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
    case, message, clip, model_file, tmp_path, capsys
):
    work = tmp_path / "work"
    work.mkdir()
    video, model = clip, ["--model", str(model_file)]
    extra: list[str] = []
    if case == "missing":
        video = work / "nope.mp4"
    elif case == "not_a_video":
        video = work / "notes.mp4"
        video.write_text("this is not a video")
    elif case == "no_frames":
        video = _empty_video(work / "empty.mp4")
    elif case == "corrupt_model":
        model = ["--model", str(_corrupt_model(tmp_path, model_file))]
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


class BreaksAfter(nn.Module):
    def __init__(self, calls: int) -> None:
        super().__init__()
        self.net, self.calls = DropBlue(), calls

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.calls -= 1
        if self.calls < 0:
            raise RuntimeError("out of memory, say")
        return self.net(x)


def test_failure_midway_leaves_no_half_written_file(clip, tmp_path) -> None:
    with pytest.raises(RuntimeError, match="out of memory"):
        video_mod.stylize_video(BreaksAfter(3), clip, tmp_path / "o.mp4", progress=False)
    assert list(tmp_path.iterdir()) == []


def test_exact_frame_rate_from_opencv_float() -> None:
    assert video_io._fraction(29.97002997002997) == Fraction(30000, 1001)
    assert video_io._fraction(23.976023976023978) == Fraction(24000, 1001)
    assert video_io._fraction(25.0) == 25


def test_flow_follows_a_known_shift_and_flags_what_came_into_view() -> None:
    picture = photo("astronaut")
    previous = np.ascontiguousarray(picture[100:260, 100:300])
    current = np.ascontiguousarray(picture[103:263, 105:305])  # camera moved 5 right, 3 down
    motion = motion_between(previous, current)
    h, w = current.shape[:2]
    dx = motion.map_x - np.arange(w)[None, :]
    dy = motion.map_y - np.arange(h)[:, None]
    inner = (slice(20, -20), slice(20, -20))
    assert np.median(dx[inner]) == pytest.approx(5, abs=0.2)
    assert np.median(dy[inner]) == pytest.approx(3, abs=0.2)
    assert motion.valid[inner].mean() > 0.95
    assert motion.valid[:, -3:].mean() < 0.5  # columns the camera uncovered: no source in t-1
    assert warping_error(current, previous, motion) < 0.1 * warping_error(
        current, previous, motion_between(current, current)
    )
