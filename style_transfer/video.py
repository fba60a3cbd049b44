"""Stylise a video as a stream: decode -> batched inference -> encode, no frame ever on disk.

    python -m style_transfer video clip.mp4 --style starry [--out clip_starry.mp4] [--stabilize]
    make stylize-video STYLE=starry VIDEO=clip.mp4

    from style_transfer.video import stylize_video
    report = stylize_video(model, "clip.mp4", "clip_starry.mp4", batch_size=4, stabilize=0.5)

A reader thread decodes with OpenCV (BGR, converted to RGB for the network), the calling thread
stylises batches of frames, a writer thread steadies (optional), measures flicker and encodes. The
output has the input's frame rate as an exact fraction (29.97 stays 30000/1001), its frame size
and its frame count. Encoding is H.264 through PyAV (crf 18; 4:2:0, or 4:4:4 when a side is odd,
since 4:2:0 cannot hold odd sizes) with the input's audio copied (AAC, MP3, AC-3... into MP4) or
transcoded to AAC; without PyAV, OpenCV's MPEG-4 Part 2 (``mp4v``) and no audio, with a warning.
The file is written under a temporary name and renamed at the end: an error or Ctrl-C leaves no
half-written output. At the end the warping error (Lai et al. 2018) of the output and of the input
itself is reported: the output's flicker, against what the flow leaves on the real footage.
"""

from __future__ import annotations

import contextlib
import os
import queue
import threading
import time
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from torch import nn
from tqdm import tqdm

from shared.cli import UserError
from style_transfer.stylize import stylize_images
from style_transfer.temporal import TemporalFilter

CODECS = ("auto", "h264", "mp4v")
PYAV_SUFFIXES = (".mp4", ".mov", ".m4v", ".mkv")
OPENCV_SUFFIXES = (".mp4", ".mov", ".m4v", ".avi")
MP4_AUDIO = ("aac", "mp3", "alac", "ac3", "eac3")  # codecs the MP4 family can carry as they are
H264_OPTIONS = {"crf": "18", "preset": "medium"}
_END = object()


@dataclass(frozen=True)
class VideoInfo:
    width: int
    height: int
    fps: Fraction
    frames: int  # as the container says; 0 when it does not
    audio: str | None  # codec name of the first audio track
    start: float  # seconds: where the first video frame sits on the container's clock


@dataclass
class VideoReport:
    frames: int
    width: int
    height: int
    fps: Fraction
    codec: str
    audio: str
    warping_error: float  # output, Lai et al. 2018 (mean over frame pairs)
    input_warping_error: float  # the input's own: what the flow leaves on real footage
    seconds: float  # wall time, opening the file to renaming the output
    network_seconds: float  # of which the calling thread spent running the network
    notes: list[str] = field(default_factory=list)

    def summary(self) -> str:
        rate = self.frames / self.seconds if self.seconds else 0.0
        return (
            f"{self.frames} frames, {self.width}x{self.height}, {float(self.fps):.3f} fps "
            f"({self.fps}), {self.codec}, audio: {self.audio}; warping error "
            f"{self.warping_error:.5f} (input {self.input_warping_error:.5f}); "
            f"{rate:.2f} frames/s ({self.network_seconds / self.seconds:.0%} of the time in the "
            f"network)"
        )


# ----------------------------------------------------------------------------- probing


def probe(path: str | Path) -> VideoInfo:
    """Size, exact frame rate, frame count and audio of ``path``; UserError if unreadable."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"video not found: {path}")
    capture = cv2.VideoCapture(str(path))
    try:
        ok, frame = capture.read() if capture.isOpened() else (False, None)
        if not ok or frame is None:
            if capture.isOpened() or _container_without_frames(path):
                raise UserError(f"video {path} has no frames")
            raise UserError(
                f"cannot open video {path}: not a video, or a format OpenCV cannot read"
            )
        height, width = frame.shape[:2]
        cv_fps = capture.get(cv2.CAP_PROP_FPS)
        cv_frames = int(capture.get(cv2.CAP_PROP_FRAME_COUNT))
    finally:
        capture.release()
    opencv_says = (_fraction(cv_fps), max(0, cv_frames), None, 0.0)
    fps, frames, audio, start = _probe_pyav(path) or opencv_says
    if fps <= 0:
        raise UserError(f"video {path} has no usable frame rate")
    return VideoInfo(width, height, fps, frames, audio, start)


def _fraction(fps: float) -> Fraction:
    """OpenCV's float rate as the fraction it stands for: 29.97002997 -> 30000/1001."""
    return Fraction(fps).limit_denominator(1001) if fps > 0 else Fraction(0)


def _container_without_frames(path: Path) -> bool:
    """A media file FFmpeg reads, with no video frame in it (an empty or audio-only file)."""
    try:
        import av

        with av.open(str(path)) as container:
            return not container.streams.video or not container.streams.video[0].frames
    except Exception:
        return False


def _probe_pyav(path: Path) -> tuple[Fraction, int, str | None, float] | None:
    try:
        import av

        with av.open(str(path)) as container:
            video = container.streams.video[0]
            rate = video.average_rate or video.guessed_rate or video.base_rate
            audio = (
                container.streams.audio[0].codec_context.name if container.streams.audio else None
            )
            start = float(video.start_time * video.time_base) if video.start_time else 0.0
            return Fraction(rate), int(video.frames or 0), audio, start
    except Exception:  # no PyAV, or a file only OpenCV reads: fall back to OpenCV's numbers
        return None


# ----------------------------------------------------------------------------- writers


class _PyAVWriter:
    """H.264 through PyAV, with the source's audio interleaved as the video advances."""

    def __init__(self, path: Path, info: VideoInfo, source: Path, keep_audio: bool) -> None:
        import av

        self.container = av.open(str(path), "w", format=_pyav_format(path))
        self.fps = info.fps
        stream = self.container.add_stream("libx264", rate=info.fps, options=dict(H264_OPTIONS))
        stream.width, stream.height = info.width, info.height
        odd = info.width % 2 or info.height % 2
        stream.pix_fmt = "yuv444p" if odd else "yuv420p"
        stream.codec_context.time_base = 1 / info.fps
        self.stream = stream
        self.audio = _AudioTrack(self.container, source, info, path) if keep_audio else None

    @property
    def audio_note(self) -> str:
        return self.audio.note if self.audio else "none"

    def write(self, rgb: np.ndarray, index: int) -> None:
        import av

        frame = av.VideoFrame.from_ndarray(rgb, format="rgb24")
        frame.pts, frame.time_base = index, 1 / self.fps
        self.container.mux(self.stream.encode(frame))
        if self.audio:
            self.audio.mux_until(float((index + 1) / self.fps))

    def close(self) -> None:
        self.container.mux(self.stream.encode(None))
        if self.audio:
            self.audio.mux_until(None)
        self.container.close()

    def abort(self) -> None:
        self.container.close()


def _pyav_format(path: Path) -> str:
    return {".mkv": "matroska", ".mov": "mov"}.get(path.suffix.lower(), "mp4")


class _AudioTrack:
    """The source's first audio track: packets copied when the container takes them, else AAC."""

    def __init__(self, container: Any, source: Path, info: VideoInfo, out_path: Path) -> None:
        import av

        self.container = container
        self.input = av.open(str(source))
        self.source = self.input.streams.audio[0]
        codec = self.source.codec_context.name
        self.copy = out_path.suffix.lower() == ".mkv" or codec in MP4_AUDIO
        if self.copy:
            self.out = container.add_stream_from_template(self.source)
            self.note = f"{codec} copied"
        else:
            self.out = container.add_stream("aac", rate=self.source.rate or 48000)
            self.note = f"{codec} transcoded to aac"
        # the output video starts at 0: move the audio by as much as the input video was late
        self.shift = round(info.start / self.source.time_base) if self.source.time_base else 0
        self.packets: Iterator[Any] = self.input.demux(self.source)
        self.pending: Any = None

    def mux_until(self, seconds: float | None) -> None:
        """Mux audio up to ``seconds`` of video (None: all that is left, then flush)."""
        while True:
            packet = self.pending or next(self.packets, None)
            self.pending = None
            if packet is None:
                break
            if packet.pts is None or packet.dts is None:  # demuxer's end-of-stream marker
                continue
            if (
                seconds is not None
                and float((packet.pts - self.shift) * packet.time_base) > seconds
            ):
                self.pending = packet
                return
            self._mux(packet)
        if not self.copy:
            self.container.mux(self.out.encode(None))
        self.input.close()

    def _mux(self, packet: Any) -> None:
        if self.copy:
            packet.pts, packet.dts = packet.pts - self.shift, packet.dts - self.shift
            packet.stream = self.out
            self.container.mux(packet)
            return
        for frame in packet.decode():
            frame.pts = None  # the encoder numbers the samples from 0, where the video starts
            self.container.mux(self.out.encode(frame))


class _OpenCVWriter:
    """MPEG-4 Part 2 through OpenCV: no audio, but no dependency beyond OpenCV."""

    audio_note = "dropped"

    def __init__(self, path: Path, info: VideoInfo) -> None:
        fourcc = cv2.VideoWriter_fourcc(*"mp4v")
        self.writer = cv2.VideoWriter(str(path), fourcc, float(info.fps), (info.width, info.height))
        if not self.writer.isOpened():
            raise UserError(f"OpenCV cannot write {path.suffix} files with the mp4v codec here")

    def write(self, rgb: np.ndarray, index: int) -> None:
        self.writer.write(cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))

    def close(self) -> None:
        self.writer.release()

    abort = close


def _pyav_available() -> bool:
    try:
        from av.codec import Codec

        Codec("libx264", "w")
        return True
    except Exception:
        return False


def resolve_codec(codec: str) -> str:
    """``auto`` -> ``h264`` when PyAV has libx264, else ``mp4v`` (with a warning)."""
    if codec not in CODECS:
        raise UserError(f"unknown codec {codec!r}; choose one of {', '.join(CODECS)}")
    if codec == "h264" and not _pyav_available():
        raise UserError("--codec h264 needs PyAV with libx264 (pip install av)")
    if codec == "auto":
        codec = "h264" if _pyav_available() else "mp4v"
        if codec == "mp4v":
            warnings.warn("PyAV with libx264 is not available: writing mp4v", stacklevel=2)
    return codec


def _open_writer(codec: str, tmp: Path, info: VideoInfo, src: Path) -> Any:
    if codec == "h264":
        return _PyAVWriter(tmp, info, src, keep_audio=info.audio is not None)
    if info.audio:
        warnings.warn(
            f"the {info.audio} audio track is dropped (mp4v through OpenCV)", stacklevel=3
        )
    if info.width % 2 or info.height % 2:
        warnings.warn(
            f"OpenCV's mp4v writer rounds {info.width}x{info.height} down to even sizes",
            stacklevel=3,
        )
    if info.fps.denominator not in (1, 100):
        warnings.warn(
            f"OpenCV stores {info.fps} fps as a decimal: {float(info.fps):.2f}", stacklevel=3
        )
    return _OpenCVWriter(tmp, info)


# ----------------------------------------------------------------------------- threads


class _Worker(threading.Thread):
    """A daemon thread that keeps its exception for the main thread to raise."""

    def __init__(self, target: Callable[[], None], name: str) -> None:
        super().__init__(name=name, daemon=True)
        self._target_fn = target
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            self._target_fn()
        except BaseException as exc:
            self.error = exc


def _put(q: queue.Queue, item: Any, stop: threading.Event) -> None:
    while not stop.is_set():
        try:
            q.put(item, timeout=0.1)
            return
        except queue.Full:
            continue


def _get(q: queue.Queue, stop: threading.Event) -> Any:
    """Next item, or the end marker once ``stop`` is set and nothing is left."""
    while True:
        try:
            return q.get(timeout=0.1)
        except queue.Empty:
            if stop.is_set():
                return _END


def _read_frames(src: Path, out: queue.Queue, stop: threading.Event) -> None:
    capture = cv2.VideoCapture(str(src))
    try:
        while not stop.is_set():
            ok, bgr = capture.read()
            if not ok:
                break
            _put(out, cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB), stop)  # the network wants RGB
    finally:
        capture.release()
        _put(out, _END, stop)


def _write_frames(
    batches: queue.Queue, stop: threading.Event, writer: Any, temporal: TemporalFilter, bar: tqdm
) -> None:
    index = 0
    while (batch := _get(batches, stop)) is not _END:
        for frame_in, frame_out in batch:
            writer.write(temporal(frame_in, frame_out), index)
            index += 1
            bar.update(1)
    if not stop.is_set():
        writer.close()


# ----------------------------------------------------------------------------- the pipeline


def stylize_video(
    model: nn.Module,
    src: str | Path,
    dst: str | Path,
    *,
    batch_size: int = 4,
    stabilize: float = 0.0,
    codec: str = "auto",
    progress: bool = True,
) -> VideoReport:
    """Stylise every frame of ``src`` into ``dst``: same fps, size, frame count (and audio).

    ``stabilize`` in [0, 1): how much of the previous output, moved along the optical flow,
    each frame keeps (0: off). Bad input raises :class:`UserError` before ``dst`` exists.
    """
    src, dst = Path(src), Path(dst)
    codec = check_request(src, dst, codec, batch_size, stabilize)
    info = probe(src)
    tmp = dst.with_name(f".{dst.stem}.partial-{os.getpid()}{dst.suffix}")
    dst.parent.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    try:
        writer = _open_writer(codec, tmp, info, src)
        temporal = TemporalFilter(stabilize)
        frames, network_seconds = _run_pipeline(
            model, src, info, writer, batch_size, temporal, progress
        )
        os.replace(tmp, dst)
    finally:
        tmp.unlink(missing_ok=True)
    notes = []
    if info.frames and frames != info.frames:
        notes.append(f"decoded {frames} of the {info.frames} frames the container lists")
    out_error, in_error = temporal.warping_errors()
    return VideoReport(
        frames=frames,
        width=info.width,
        height=info.height,
        fps=info.fps,
        codec=codec,
        audio=writer.audio_note,
        warping_error=out_error,
        input_warping_error=in_error,
        seconds=time.perf_counter() - start,
        network_seconds=network_seconds,
        notes=notes,
    )


def check_request(src: Path, dst: Path, codec: str, batch_size: int, stabilize: float) -> str:
    """Refuse bad settings before any work; returns the codec ``auto`` stands for."""
    if batch_size < 1:
        raise UserError(f"--batch-size must be at least 1, got {batch_size}")
    if not 0.0 <= stabilize < 1.0:
        raise UserError(f"--stabilize strength must be in [0, 1), got {stabilize}")
    codec = resolve_codec(codec)
    suffixes = PYAV_SUFFIXES if codec == "h264" else OPENCV_SUFFIXES
    if dst.suffix.lower() not in suffixes:
        raise UserError(f"{codec} output must end in {', '.join(suffixes)}, not {dst.name!r}")
    if dst.exists() and src.exists() and dst.resolve() == src.resolve():
        raise UserError(f"the output would overwrite the input: {dst}")
    return codec


def _run_pipeline(
    model: nn.Module,
    src: Path,
    info: VideoInfo,
    writer: Any,
    batch_size: int,
    temporal: TemporalFilter,
    progress: bool,
) -> tuple[int, float]:
    """Frames written, and seconds the calling thread spent in the network."""
    stop = threading.Event()
    decoded: queue.Queue = queue.Queue(maxsize=2 * batch_size)
    styled: queue.Queue = queue.Queue(maxsize=2)
    bar = tqdm(total=info.frames or None, unit="frame", desc="stylise video", disable=not progress)
    reader = _Worker(lambda: _read_frames(src, decoded, stop), "video-reader")
    sink = _Worker(lambda: _write_frames(styled, stop, writer, temporal, bar), "video-writer")
    reader.start()
    sink.start()
    frames, network = 0, 0.0
    try:
        for batch in _batches(decoded, stop, reader, batch_size):
            start = time.perf_counter()
            outputs = stylize_images(model, batch, batch_size=len(batch))
            network += time.perf_counter() - start
            _put_checked(styled, list(zip(batch, outputs, strict=True)), sink)
            frames += len(batch)
        _put_checked(styled, _END, sink)
        sink.join()
        if sink.error is not None:
            raise sink.error
    except BaseException:
        stop.set()
        sink.join()
        with contextlib.suppress(Exception):
            writer.abort()
        raise
    finally:
        stop.set()
        reader.join()
        bar.close()
    return frames, network


def _put_checked(q: queue.Queue, item: Any, consumer: _Worker) -> None:
    """Put, unless the consumer died: then raise its error instead of waiting forever."""
    while True:
        if consumer.error is not None:
            raise consumer.error
        if not consumer.is_alive():
            raise RuntimeError(f"{consumer.name} stopped")
        try:
            q.put(item, timeout=0.1)
            return
        except queue.Full:
            continue


def _batches(
    decoded: queue.Queue, stop: threading.Event, reader: _Worker, batch_size: int
) -> Iterator[list[np.ndarray]]:
    batch: list[np.ndarray] = []
    while (frame := _get(decoded, stop)) is not _END:
        batch.append(frame)
        if len(batch) == batch_size:
            yield batch
            batch = []
    if reader.error is not None:
        raise reader.error
    if batch:
        yield batch
