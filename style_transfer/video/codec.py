"""Video files in and out: probing (exact frame rate, audio), and the H.264 / mp4v writers.

    from style_transfer.video.codec import codec_threads, open_capture, open_writer, probe
    info = probe("clip.mp4")         # VideoInfo(width, height, fps=Fraction(30000, 1001), ...)
    decode, encode = codec_threads(budget=4, device_type="cpu")    # (1, 1): the network has them
    capture = open_capture(Path("clip.mp4"), threads=decode)
    writer = open_writer("h264", Path("out.mp4"), info, Path("clip.mp4"), threads=encode)
    writer.write(rgb_frame, index); writer.close()

The frame rate is an exact fraction: PyAV's ``average_rate`` when PyAV reads the file, else
OpenCV's float turned back into the fraction it stands for (29.97002997 -> 30000/1001). H.264
goes through PyAV (crf 18; 4:2:0, or 4:4:4 when a side is odd, since 4:2:0 cannot hold odd
sizes) with the source's audio interleaved as the video advances: copied when the container
takes the codec (AAC, MP3, AC-3... into MP4; anything into MKV), else transcoded to AAC. The
OpenCV fallback (``mp4v``) drops audio, rounds odd sizes down and stores the rate as a decimal
(30000/1001 becomes 2997/100); each of these is a warning, and the rate reported for an output is
the one :func:`probe` reads back from it. FFmpeg's own log lines (through OpenCV) are silenced:
a file OpenCV cannot read ends as one line of ours (``OPENCV_FFMPEG_LOGLEVEL`` set in the
environment wins, for debugging).

Codec threads come out of the command's CPU budget (:func:`codec_threads`), never FFmpeg's own
choice of one per core: on a busy machine where one core was free, that choice would put a dozen
codec threads beside the one the network was given.
"""

from __future__ import annotations

import errno
import os
import shutil
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from shared.errors import UserError

os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")  # AV_LOG_QUIET; read when a file opens

CODECS = ("auto", "h264", "mp4v")
PYAV_SUFFIXES = (".mp4", ".mov", ".m4v", ".mkv")
OPENCV_SUFFIXES = (".mp4", ".mov", ".m4v", ".avi")
MP4_AUDIO = ("aac", "mp3", "alac", "ac3", "eac3")  # codecs the MP4 family can carry as they are
# veryfast: at crf 18 the picture holds, and encoding costs a few ms a frame (medium: twice that)
H264_OPTIONS = {"crf": "18", "preset": "veryfast"}
# A GPU runs the network: of the budget, the decoder gets this share and the encoder the rest
# (640x360 H.264 on one core: 2 ms a frame to decode, 17 to encode).
DECODE_SHARE = 1 / 8


def codec_threads(budget: int, device_type: str) -> tuple[int, int]:
    """(decoder, encoder) threads for a video stylised with ``budget`` CPU threads
    (:func:`shared.threads.cpu_threads`'s count) on ``device_type``.

    On a CPU the network is the slow stage by far (640x360, the shipped models, one thread:
    about 1.5 s a frame, against 2 ms to decode and 17 ms to encode), so it keeps the budget and
    each codec runs in its own pipeline thread alone: one thread each, whatever the budget, so a
    budget of 1 is one network thread and two codec threads that mostly wait on their queues.
    Beside a GPU the codecs are the slow stages, and the budget is theirs.
    """
    if budget < 1:
        raise ValueError(f"a thread budget is at least 1, not {budget}")
    if device_type == "cpu":
        return 1, 1
    decode = max(1, round(budget * DECODE_SHARE))
    return decode, max(1, budget - decode)


def open_capture(path: Path, threads: int) -> cv2.VideoCapture:
    """OpenCV's reader for ``path``, its FFmpeg decoder on ``threads`` threads (OpenCV's default
    is one per core)."""
    return cv2.VideoCapture(str(path), cv2.CAP_ANY, [cv2.CAP_PROP_N_THREADS, threads])


@dataclass(frozen=True)
class VideoInfo:
    width: int
    height: int
    fps: Fraction
    frames: int  # as the container says; 0 when it does not
    audio: str | None  # codec name of the first audio track
    start: float  # seconds: where the first video frame sits on the container's clock


def probe(path: str | Path) -> VideoInfo:
    """Size, exact frame rate, frame count and audio of ``path``; UserError if unreadable."""
    path = Path(path)
    if path.is_dir():
        raise UserError(f"{path} is a folder, not a video file")
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


class _PyAVWriter:
    """H.264 through PyAV, with the source's audio interleaved as the video advances."""

    def __init__(
        self, path: Path, info: VideoInfo, source: Path, keep_audio: bool, threads: int = 1
    ) -> None:
        import av

        self.container = av.open(str(path), "w", format=_pyav_format(path))
        self.fps = info.fps
        stream = self.container.add_stream("libx264", rate=info.fps, options=dict(H264_OPTIONS))
        # PyAV leaves the count to libx264 (0: its own, a thread or more per core): the budget's
        # instead. Frame threads, where there are several: a file wants throughput, not latency.
        stream.codec_context.thread_count = threads
        stream.codec_context.thread_type = "FRAME" if threads > 1 else "SLICE"
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
        # converted here rather than by the encoder's default (bicubic chroma): area averaging
        # is the cheaper of the two and the closer to the frame (1.87/255 against 1.93 mean
        # difference after 4:2:0 and back, 0.63 against 0.77 ms at 384x256)
        frame = frame.reformat(format=self.stream.pix_fmt, interpolation="AREA")
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
        if self.audio:
            self.audio.input.close()
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
            # a few packets a frame, in the writer's thread: no threads of their own
            self.source.codec_context.thread_count = self.out.codec_context.thread_count = 1
        # the output video starts at 0: move the audio by as much as the input video was late
        self.shift = round(info.start / self.source.time_base) if self.source.time_base else 0
        self.packets: Iterator[Any] = self.input.demux(self.source)
        self.pending: Any = None
        self.done = False

    def mux_until(self, seconds: float | None) -> None:
        """Mux audio up to ``seconds`` of video (None: all that is left, then flush)."""
        while not self.done:
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
        if not self.done:  # the track has ended (it may be shorter than the video)
            self.done = True
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
        self.path = path
        self.writer = cv2.VideoWriter(str(path), fourcc, float(info.fps), (info.width, info.height))
        if not self.writer.isOpened():
            raise UserError(f"OpenCV cannot write {path.suffix} files with the mp4v codec here")

    def write(self, rgb: np.ndarray, index: int) -> None:
        self.writer.write(cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))

    def close(self) -> None:
        self.writer.release()
        # OpenCV drops its write errors: on a disk it has filled, the file is cut short and
        # would be renamed onto the output. No space left after the write means it did not fit.
        if shutil.disk_usage(self.path.parent).free == 0:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(self.path))

    def abort(self) -> None:
        self.writer.release()


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


def open_writer(codec: str, tmp: Path, info: VideoInfo, src: Path, threads: int = 1) -> Any:
    """The writer for ``codec``; H.264's encoder on ``threads`` threads (OpenCV's mp4v writer
    has no thread setting: it keeps OpenCV's own)."""
    if codec == "h264":
        return _PyAVWriter(tmp, info, src, keep_audio=info.audio is not None, threads=threads)
    if info.audio:
        warnings.warn(
            f"the {info.audio} audio track is dropped (mp4v through OpenCV)", stacklevel=3
        )
    if info.width % 2 or info.height % 2:
        warnings.warn(
            f"OpenCV's mp4v writer rounds {info.width}x{info.height} down to even sizes",
            stacklevel=3,
        )
    return _OpenCVWriter(tmp, info)
