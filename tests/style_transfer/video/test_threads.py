"""The decoder's, the encoder's and OpenCV's threads come out of the command's one CPU budget:
the configured objects are inspected, nothing is timed."""

from __future__ import annotations

import time

import cv2
import numpy as np
import pytest
import torch

from style_transfer.video import codec, network_stage, stream
from tests.style_transfer.video.clips import DropBlue, decode, make_pan


@pytest.fixture
def opened(monkeypatch):
    """The thread counts of the capture, the codec contexts and OpenCV's pool, read from the
    objects as transform_video configured them."""
    made: dict = {}
    open_capture, open_writer, set_threads = (
        stream.open_capture,
        stream.open_writer,
        cv2.setNumThreads,
    )

    def capture(path, threads):
        opened_capture = open_capture(path, threads)
        made["decoder"] = opened_capture.get(cv2.CAP_PROP_N_THREADS)
        return opened_capture

    def writer(*args, **kwargs):
        opened_writer = open_writer(*args, **kwargs)
        made["encoder"] = opened_writer.stream.codec_context.thread_count
        if opened_writer.audio is not None:
            made["audio"] = (
                opened_writer.audio.source.codec_context.thread_count,
                opened_writer.audio.out.codec_context.thread_count,
            )
        return opened_writer

    def pool(count):
        made.setdefault("opencv", []).append(count)
        set_threads(count)

    monkeypatch.setattr(stream, "open_capture", capture)
    monkeypatch.setattr(stream, "open_writer", writer)
    monkeypatch.setattr(cv2, "setNumThreads", pool)
    return made


@pytest.mark.parametrize("budget", [1, 4])
def test_with_a_cpu_network_every_codec_context_has_one_thread(budget, opened, tmp_path):
    source = make_pan(tmp_path / "pcm.mov", audio="pcm_s16le", frames=4)  # audio transcoded
    report = stream.transform_video(
        DropBlue(), source, tmp_path / "o.mp4", threads=budget, progress=False
    )
    assert report.threads == (budget, 1, 1)
    assert opened["decoder"] == 1  # OpenCV's FFmpeg decoder: not one per core
    assert opened["encoder"] == 1  # libx264: not 1.5 per core
    assert opened["audio"] == (1, 1)  # the audio decoder and the AAC encoder
    assert opened["opencv"][0] == 1  # OpenCV's pool during the run (given back after)


def test_the_budget_defaults_to_torchs_count(opened, tmp_path, monkeypatch):
    monkeypatch.setattr(stream.torch, "get_num_threads", lambda: 3)
    source = make_pan(tmp_path / "clip.mp4", frames=2)
    assert (
        stream.transform_video(DropBlue(), source, tmp_path / "o.mp4", progress=False).threads[0]
        == 3
    )


def test_beside_a_gpu_the_codecs_share_the_budget():
    assert codec.codec_threads(1, "cpu") == codec.codec_threads(16, "cpu") == (1, 1)
    assert codec.codec_threads(1, "cuda") == (1, 1)  # one thread each at the least
    assert codec.codec_threads(16, "cuda") == (2, 14)  # encoding costs ~8x decoding
    assert sum(codec.codec_threads(8, "mps")) == 8
    with pytest.raises(ValueError, match="at least 1"):
        codec.codec_threads(0, "cpu")


def test_several_encoder_threads_are_frame_threads(tmp_path):
    source = make_pan(tmp_path / "clip.mp4", frames=2)
    info = codec.probe(source)
    writer = codec.open_writer("h264", tmp_path / "o.mp4", info, source, threads=3)
    try:
        assert writer.stream.codec_context.thread_count == 3
        assert writer.stream.codec_context.thread_type.name == "FRAME"
    finally:
        writer.abort()


def test_a_cpu_budget_becomes_single_threaded_workers():
    assert network_stage.network_workers(1, "cpu") == 1
    assert (
        network_stage.network_workers(2, "cpu") == 2
        and network_stage.network_workers(8, "cpu") == 8
    )
    assert network_stage.network_workers(8, "cuda") == network_stage.network_workers(8, "mps") == 1
    with pytest.raises(ValueError):
        network_stage.network_workers(0, "cpu")


class SlowDropBlue(DropBlue):
    """DropBlue that takes 30 ms a batch and records when it ran and on how many threads."""

    def __init__(self, spans: list) -> None:
        super().__init__()
        self.spans = spans

    def forward(self, x):
        start = time.perf_counter()
        time.sleep(0.03)
        self.spans.append((start, time.perf_counter(), torch.get_num_threads()))
        return super().forward(x)


@pytest.mark.parametrize("budget", [1, 2])
def test_workers_compute_batches_at_once_and_the_frames_stay_in_order(budget, tmp_path):
    source = make_pan(tmp_path / "clip.mp4", frames=12)
    spans: list = []
    stream.transform_video(
        SlowDropBlue(spans), source, tmp_path / "o.mp4", threads=budget, batch_size=2,
        progress=False,
    )  # fmt: skip
    assert len(spans) == 6
    overlaps = sum(a < d and c < b for i, (a, b, _) in enumerate(spans) for c, d, _ in spans[:i])
    assert (overlaps > 0) == (budget == 2)
    assert {threads for *_, threads in spans} == {1}  # each worker a team of one
    written, _ = decode(tmp_path / "o.mp4")
    frames, _ = decode(source)
    assert len(written) == 12
    for k, got in enumerate(written):  # blue dropped; red and green closest to frame k's
        misses = [np.abs(got[..., :2].astype(int) - f[..., :2]).mean() for f in frames]
        assert int(np.argmin(misses)) == k and got[..., 2].mean() < 10
