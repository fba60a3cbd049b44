"""The video pipeline: frames reach the network as RGB, audio survives, stabilisation calms
flicker without smearing, the mp4v fallback, and a failure midway leaves nothing.

    .venv/bin/python -m pytest tests/style_transfer/video -q
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest
import torch
from torch import nn

from style_transfer.color import rgb_to_ycbcr
from style_transfer.johnson.infer import transform_images
from style_transfer.johnson.net import TransformerNet
from style_transfer.video import stream
from style_transfer.video.temporal import motion_between, warping_error
from tests.style_transfer.video.clips import (
    FRAMES,
    RATE,
    TINY,
    DropBlue,
    audio_track,
    decode,
    make_pan,
    opencv_count,
)


def test_audio_mp4_cannot_carry_is_transcoded_to_aac(tmp_path) -> None:
    source = make_pan(tmp_path / "pcm.mov", audio="pcm_s16le", frames=8)
    report = stream.transform_video(DropBlue(), source, tmp_path / "o.mp4", progress=False)
    assert report.audio == "pcm_s16le transcoded to aac"
    codec, sample_rate, seconds = audio_track(tmp_path / "o.mp4")
    assert (codec, sample_rate) == ("aac", 44100)
    assert seconds == pytest.approx(audio_track(source)[2], abs=0.05)


def test_frames_reach_the_network_as_rgb(clip, tmp_path) -> None:
    """The trap: OpenCV decodes BGR; fed as RGB, the red channel would be the one dropped."""
    report = stream.transform_video(DropBlue(), clip, tmp_path / "o.mp4", progress=False)
    assert report.frames == FRAMES
    frames_in, _ = decode(clip)
    frames_out, _ = decode(tmp_path / "o.mp4")
    mean_in = np.mean(frames_in, axis=(0, 1, 2))
    mean_out = np.mean(frames_out, axis=(0, 1, 2))
    assert mean_out[2] < 8  # blue is gone ...
    assert abs(mean_out[0] - mean_in[0]) < 4 and abs(mean_out[1] - mean_in[1]) < 4  # red kept


def test_preserve_color_gives_every_frame_its_own_colours_back(clip, tmp_path) -> None:
    """The network drops blue; with the colours kept only its luminance shows."""
    out = tmp_path / "kept.mp4"
    report = stream.transform_video(DropBlue(), clip, out, progress=False, preserve_color=True)
    assert report.preserve_color and "colours kept" in report.summary()

    def chroma(frames: list[np.ndarray]) -> np.ndarray:
        rgb = torch.from_numpy(np.stack(frames)).permute(0, 3, 1, 2).float() / 255
        return rgb_to_ycbcr(rgb)[:, 1:].numpy() * 255

    frames_in, _ = decode(clip)
    frames_out, _ = decode(out)
    assert np.abs(chroma(frames_out) - chroma(frames_in)).mean() < 2
    assert np.mean(frames_out, axis=(0, 1, 2))[2] > 0.8 * np.mean(frames_in, axis=(0, 1, 2))[2]


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
    shaky = stream.transform_video(Flickering(net, 0.06), clip, tmp_path / "a.mp4", progress=False)
    steady = stream.transform_video(
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
    clean = np.stack(transform_images(net, frames_in)).astype(np.float64)
    distance = {n: np.abs(np.stack(decode(tmp_path / f"{n}.mp4")[0]) - clean).mean() for n in "ab"}
    assert distance["b"] < distance["a"]


def test_mp4v_fallback_keeps_count_and_size_and_warns_about_audio(tmp_path) -> None:
    even = make_pan(tmp_path / "even.mp4", width=160, height=120, audio="aac")
    with pytest.warns(UserWarning) as caught:
        report = stream.transform_video(
            DropBlue(), even, tmp_path / "o.mp4", codec="mp4v", progress=False
        )
    messages = " | ".join(str(w.message) for w in caught)
    assert "aac audio track is dropped" in messages
    # OpenCV stores 29.97 as a decimal: the report says so, and gives the rate the file holds
    assert report.fps == Fraction(2997, 100) and "not the input's 30000/1001" in report.notes[-1]
    assert report.audio == "dropped"
    n, fps = opencv_count(tmp_path / "o.mp4")
    assert n == FRAMES and fps == pytest.approx(float(RATE), abs=1e-3)
    assert decode(tmp_path / "o.mp4")[0][0].shape == (120, 160, 3)


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
        stream.transform_video(BreaksAfter(3), clip, tmp_path / "o.mp4", progress=False)
    assert list(tmp_path.iterdir()) == []
