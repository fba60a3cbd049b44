"""Test clips and small networks the video tests share.

The clips are a pan across scikit-image's astronaut at 29.97 fps (30000/1001) and an odd size
(161x121), made with PyAV; one has an AAC sine tone. Networks are small and untrained.
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np
import torch
from torch import nn

from style_transfer.johnson.net import NetConfig
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


class DropBlue(nn.Module):
    """Keeps red and green, zeroes blue: shows which channel the network received as blue."""

    def __init__(self) -> None:
        super().__init__()
        self.gain = nn.Parameter(torch.tensor([1.0, 1.0, 0.0]).view(1, 3, 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.gain
