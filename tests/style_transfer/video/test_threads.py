"""The decoder's, the encoder's and OpenCV's threads come out of the command's one CPU budget:
the configured objects are inspected, nothing is timed."""

from __future__ import annotations

import time

import cv2
import pytest

from style_transfer.video import codec, stream
from tests.style_transfer.video.clips import DropBlue, make_pan


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


def test_a_cpu_team_and_the_codecs_take_turns():
    assert codec.takes_turns(2, "cpu") and codec.takes_turns(8, "cpu")
    assert not codec.takes_turns(1, "cpu")  # one network thread: no team to stall
    assert not codec.takes_turns(8, "cuda") and not codec.takes_turns(8, "mps")


class SlowDropBlue(DropBlue):
    """DropBlue that takes 30 ms a batch and records when it ran."""

    def __init__(self, spans: list) -> None:
        super().__init__()
        self.spans = spans

    def forward(self, x):
        start = time.perf_counter()
        time.sleep(0.03)
        self.spans.append(("network", start, time.perf_counter()))
        return super().forward(x)


@pytest.mark.parametrize(("budget", "apart"), [(2, True), (1, False)])
def test_with_turns_no_frame_is_encoded_while_the_network_computes(
    budget, apart, tmp_path, monkeypatch
):
    spans: list = []
    open_writer = stream.open_writer

    def writer(*args, **kwargs):
        made = open_writer(*args, **kwargs)
        write = made.write

        def timed(*frame):
            start = time.perf_counter()
            time.sleep(0.01)  # long enough to land inside a batch when nothing keeps it out
            write(*frame)
            spans.append(("encode", start, time.perf_counter()))

        made.write = timed
        return made

    monkeypatch.setattr(stream, "open_writer", writer)
    source = make_pan(tmp_path / "clip.mp4", frames=12)
    stream.transform_video(
        SlowDropBlue(spans), source, tmp_path / "o.mp4", threads=budget, batch_size=2,
        progress=False,
    )  # fmt: skip
    network = [(a, b) for kind, a, b in spans if kind == "network"]
    encode = [(a, b) for kind, a, b in spans if kind == "encode"]
    overlaps = sum(a < d and c < b for a, b in network for c, d in encode)
    assert len(encode) == 12
    assert (overlaps == 0) == apart
