"""Stylise a video as a stream: decode -> batched inference -> encode, no frame ever on disk.

    python -m style_transfer video clip.mp4 --style starry [--out clip_starry.mp4] [--stabilize]
    make stylize-video STYLE=starry VIDEO=clip.mp4 ARGS="--precision bf16"

    from style_transfer.video.stream import VideoRequest, run_video, transform_video
    run_video(VideoRequest(Path("clip.mp4"), style="starry"))     # what the video command does
    report = transform_video(model, "clip.mp4", "clip_starry.mp4", batch_size=4, stabilize=0.5)

A reader thread decodes with OpenCV (BGR, converted to RGB for the network), the calling thread
stylises batches of frames, a writer thread steadies (optional), measures flicker and encodes
(:mod:`~style_transfer.video.codec`: H.264 with the input's audio through PyAV, or OpenCV's
mp4v). The output has the input's frame rate as an exact fraction (29.97 stays 30000/1001; mp4v
stores a decimal, 2997/100, and the report gives the rate read back from the file), its frame
size and its frame count. It is written under a temporary name and renamed at the end: an error
or Ctrl-C leaves no half-written output, and the temporaries a killed run (SIGKILL) left beside
the output are removed by the next run. An input that ends before the frame count its container
lists (truncated, damaged) is refused, nothing written, unless ``allow_partial``: then the
frames decoded are kept, with a warning. At the end the warping error (Lai et al. 2018) of the
output and of the input itself is reported: the output's flicker, against what the flow leaves
on real footage.

The network computes in ``precision`` as for stylize (:func:`style_transfer.johnson.infer.
choose_precision`: the network itself converted to bfloat16 where ``auto`` finds it pays). Every
thread counts against the one CPU budget :func:`shared.threads.cpu_threads` chose: the network
takes it (on a CPU as one single-threaded worker per thread, each on its own batch:
:mod:`style_transfer.video.network_stage`), the decoder and encoder get theirs from
:func:`~style_transfer.video.codec.codec_threads` (one each beside a CPU network), and OpenCV's
pool one.
"""

from __future__ import annotations

import contextlib
import queue
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import torch
from torch import nn
from tqdm import tqdm

from shared.atomic import atomic_path, remove_stale_temporaries
from shared.compiled import compile_network, is_compiled
from shared.device import DEFAULT_DEVICE, describe, pick_device
from shared.errors import UserError
from shared.precision import DEFAULT_PRECISION, NAMES
from shared.threads import cpu_threads, opencv_threads
from style_transfer.johnson.infer import BATCH_SIZE, choose_precision
from style_transfer.johnson.model_file import load_model
from style_transfer.johnson.net import to_inference
from style_transfer.styles import get_style
from style_transfer.video.codec import (
    OPENCV_SUFFIXES,
    PYAV_SUFFIXES,
    VideoInfo,
    codec_threads,
    open_capture,
    open_writer,
    probe,
    resolve_codec,
)
from style_transfer.video.handoff import END, Worker, get, put, put_checked
from style_transfer.video.network_stage import NetworkTimer, network_workers, stylised_in_order
from style_transfer.video.temporal import TemporalFilter

# Without stabilisation the flow serves only the flicker figure: measured on every 4th frame pair
# it costs a quarter (two flows a pair, ~4 ms at 384x256, a sixth of a bf16 frame on 2 cores).
FLICKER_EVERY = 4


@dataclass
class VideoReport:
    frames: int
    width: int
    height: int
    fps: Fraction
    codec: str
    audio: str
    warping_error: float  # output, Lai et al. 2018 (mean over the frame pairs measured)
    input_warping_error: float  # the input's own: what the flow leaves on real footage
    seconds: float  # wall time, opening the file to renaming the output
    network_seconds: float  # of which the network computed (NetworkTimer: per worker)
    precision: str = "fp32"  # what the network computed in
    threads: tuple[int, int, int] = (1, 1, 1)  # network, decoder, encoder
    notes: list[str] = field(default_factory=list)
    flicker_every: int = 1  # the warping errors measured on every k-th frame pair
    preserve_color: bool = False  # the frames kept their colours

    def summary(self) -> str:
        rate = self.frames / self.seconds if self.seconds else 0.0
        network, decode, encode = self.threads
        sampled = f", every {self.flicker_every}th frame pair" if self.flicker_every > 1 else ""
        return (
            f"{self.frames} frames, {self.width}x{self.height}, {float(self.fps):.3f} fps "
            f"({self.fps}), {self.codec}, audio: {self.audio}; {self.precision}"
            f"{', colours kept' if self.preserve_color else ''}, threads: "
            f"{network} network, {decode} decode, {encode} encode; warping error "
            f"{self.warping_error:.5f} (input {self.input_warping_error:.5f}{sampled}); "
            f"{rate:.2f} frames/s ({self.network_seconds / self.seconds:.0%} of the time in the "
            f"network)"
        )


def _read_frames(src: Path, threads: int, out: queue.Queue, stop: threading.Event) -> None:
    capture = open_capture(src, threads)
    try:
        while not stop.is_set():
            ok, bgr = capture.read()
            if not ok:
                break
            put(out, cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB), stop)  # the network wants RGB
    finally:
        capture.release()
        put(out, END, stop)


def _write_frames(
    batches: queue.Queue, stop: threading.Event, writer: Any, temporal: TemporalFilter, bar: tqdm
) -> None:
    index = 0
    while (batch := get(batches, stop)) is not END:
        for frame_in, frame_out in batch:
            writer.write(temporal(frame_in, frame_out), index)
            index += 1
            bar.update(1)
    if not stop.is_set():
        writer.close()


# ----------------------------------------------------------------------------- the command


@dataclass
class VideoRequest:
    """One ``video`` command: which clip, which trained style (or model file), where to."""

    video: Path
    style: str | None = None  # a style with a trained model ...
    model: Path | None = None  # ... or a model file
    out: Path | None = None  # None: VIDEO_<style>.mp4 beside the input
    batch_size: int = BATCH_SIZE  # frames per pass
    stabilize: float = 0.0  # 0: off; else how much of the previous frame each frame keeps
    codec: str = "auto"  # h264 when PyAV has libx264, else mp4v
    allow_partial: bool = False  # keep what decodes of a truncated input (else: refused)
    device: str = DEFAULT_DEVICE
    threads: int | None = None  # None: the idle cores
    precision: str = DEFAULT_PRECISION  # the network's, as for stylize
    preserve_color: bool = False  # keep the frames' colours, the style's luminance only
    per_frame: bool = False  # the style's photo network even where one trained for video ships
    compile: bool = False  # the network through torch.compile first (shared.compiled)


def model_path_for(style: str | None, model: Path | None, per_frame: bool = False) -> Path:
    """The model file for ``model`` or ``style`` (the registry's lookup: the user's trained
    styles first, then the shipped models; a style's network trained for video first, unless
    ``per_frame``)."""
    if model is not None:
        return model
    if not style:
        raise UserError("say which style: --style NAME or --model PATH")
    steady = get_style(style).steady_model_path
    if steady is not None and not per_frame:
        return steady
    path = get_style(style).model_path
    if not path.is_file():
        raise UserError(
            f"no trained model for style {style!r} ({path} is missing): "
            f"train one with 'make train-style STYLE={style} DATA=dir', or pass --model PATH"
        )
    return path


def run_video(request: VideoRequest) -> VideoReport:
    """The ``video`` command: everything cheap to check is checked before the model loads."""
    path = model_path_for(request.style, request.model, request.per_frame)
    src = request.video
    out = request.out or src.with_name(f"{src.stem}_{request.style or path.stem}.mp4")
    check_request(src, out, request.codec, request.batch_size, request.stabilize)
    probe(src)
    device = pick_device(request.device)
    with cpu_threads(request.threads) as threads:
        model, meta = load_model(path, device)
        dtype = choose_precision(to_inference(model, device), request.precision, device)
        model = model.to(dtype)
        if request.compile:
            model = compile_network(model, device)
        style = meta.get("style", path.stem)
        compiled = ", compiled" if is_compiled(model) else ""
        print(f"model {path} ({style}) on {describe(device)}, {NAMES[dtype]}{compiled}",
              file=sys.stderr)  # fmt: skip
        report = transform_video(
            model,
            src,
            out,
            batch_size=request.batch_size,
            stabilize=request.stabilize,
            codec=request.codec,
            allow_partial=request.allow_partial,
            threads=threads,
            preserve_color=request.preserve_color,
        )
    for note in report.notes:
        print(f"warning: {note}", file=sys.stderr)
    print(f"wrote {out}: {report.summary()}")
    return report


# ----------------------------------------------------------------------------- the pipeline


def transform_video(
    model: nn.Module,
    src: str | Path,
    dst: str | Path,
    *,
    batch_size: int = VideoRequest.batch_size,
    stabilize: float = VideoRequest.stabilize,
    codec: str = VideoRequest.codec,
    allow_partial: bool = VideoRequest.allow_partial,
    threads: int | None = None,
    progress: bool = True,
    preserve_color: bool = False,
) -> VideoReport:
    """Stylise every frame of ``src`` into ``dst``: same fps, size, frame count (and audio).

    ``stabilize`` in [0, 1): how much of the previous output, moved along the optical flow,
    each frame keeps (0: off). ``threads``: the CPU budget (None: torch's count, which
    :func:`shared.threads.cpu_threads` set). ``preserve_color``: every frame keeps its own
    colours and takes the network's luminance only. Bad input raises :class:`UserError`
    before ``dst`` exists; an input that decodes fewer frames than its container lists raises
    it after the work, and ``dst`` is not written, unless ``allow_partial``.
    """
    src, dst = Path(src), Path(dst)
    codec = check_request(src, dst, codec, batch_size, stabilize)
    info, start = probe(src), time.perf_counter()
    stale = remove_stale_temporaries(dst.parent)
    notes = [f"removed {p.name}, left by a killed run" for p in stale]
    weight = next(model.parameters(), torch.empty(0))
    budget = threads or torch.get_num_threads()
    decode, encode = codec_threads(budget, weight.device.type)
    # needs: about the source's size; OpenCV on one thread: the network has the budget
    with opencv_threads(1), atomic_path(dst, needs=src.stat().st_size) as tmp:
        writer = open_writer(codec, tmp, info, src, threads=encode)
        temporal = TemporalFilter(stabilize, 1 if stabilize else FLICKER_EVERY)
        frames, network_seconds = _run_pipeline(
            model, (src, decode), info, writer, batch_size, temporal, progress,
            network_workers(budget, weight.device.type), preserve_color,
        )  # fmt: skip
        notes += frame_count_notes(src, info, frames, allow_partial)
        # OpenCV's mp4v writer keeps a decimal (2997/100 for 30000/1001): report what the
        # file holds; PyAV stores the exact fraction it is given
        stored = probe(tmp).fps if codec == "mp4v" else info.fps
    if stored != info.fps:
        notes.append(f"the output runs at {stored} fps ({float(stored):.3f}), not the input's "
                     f"{info.fps}: mp4v stores the rate as a decimal")  # fmt: skip
    out_error, in_error = temporal.warping_errors()
    return VideoReport(
        frames=frames, width=info.width, height=info.height, fps=stored, codec=codec,
        audio=writer.audio_note, warping_error=out_error, input_warping_error=in_error,
        seconds=time.perf_counter() - start, network_seconds=network_seconds,
        precision=NAMES.get(weight.dtype, str(weight.dtype)), threads=(budget, decode, encode),
        notes=notes, flicker_every=temporal.measure_every, preserve_color=preserve_color,
    )  # fmt: skip


def frame_count_notes(src: Path, info: VideoInfo, frames: int, allow_partial: bool) -> list[str]:
    """Notes on a frame count that differs from the container's; a short one (a truncated or
    damaged file) is refused unless ``allow_partial``. Containers that list no count (MKV,
    WebM) cannot be checked."""
    if not info.frames or frames == info.frames:
        return []
    if frames > info.frames:
        return [f"decoded {frames} frames; the container lists {info.frames}"]
    short = f"{src} ends early (truncated or damaged?): {frames} of its {info.frames} frames decode"
    if not allow_partial:
        raise UserError(f"{short}; nothing written (--allow-partial keeps the {frames})")
    return [f"{short}; kept those (--allow-partial)"]


def check_request(src: Path, dst: Path, codec: str, batch_size: int, stabilize: float) -> str:
    """Refuse bad settings before any work; returns the codec ``auto`` stands for."""
    if batch_size < 1:
        raise UserError(f"batch size must be at least 1, got {batch_size}")
    if not 0.0 <= stabilize < 1.0:
        raise UserError(f"stabilize strength must be in [0, 1), got {stabilize}")
    codec = resolve_codec(codec)
    suffixes = PYAV_SUFFIXES if codec == "h264" else OPENCV_SUFFIXES
    if dst.suffix.lower() not in suffixes:
        raise UserError(f"{codec} output must end in {', '.join(suffixes)}, not {dst.name!r}")
    if dst.is_dir():
        raise UserError(f"cannot write {dst}: it is a folder")
    if dst.exists() and src.exists() and dst.resolve() == src.resolve():
        raise UserError(f"the output would overwrite the input: {dst}")
    return codec


def _run_pipeline(
    model: nn.Module,
    source: tuple[Path, int],
    info: VideoInfo,
    writer: Any,
    batch_size: int,
    temporal: TemporalFilter,
    progress: bool,
    workers: int,
    preserve_color: bool = False,
) -> tuple[int, float]:
    """Frames written, and the network's seconds (:class:`NetworkTimer`). ``source``: the video
    and its decoder's thread count; ``workers``: batches computed at once
    (:func:`~style_transfer.video.network_stage.network_workers`)."""
    stop = threading.Event()
    decoded: queue.Queue = queue.Queue(maxsize=2 * batch_size)
    styled: queue.Queue = queue.Queue(maxsize=2)
    bar = tqdm(total=info.frames or None, unit="frame", desc="stylise video", disable=not progress)
    reader = Worker(lambda: _read_frames(*source, decoded, stop), "video-reader")
    sink = Worker(lambda: _write_frames(styled, stop, writer, temporal, bar), "video-writer")
    reader.start()
    sink.start()
    frames, timer = 0, NetworkTimer(workers)
    batches = _batches(decoded, stop, reader, batch_size)
    try:
        styled_batches = stylised_in_order(model, batches, workers, timer, preserve_color)
        for batch, outputs in styled_batches:
            put_checked(styled, list(zip(batch, outputs, strict=True)), sink)
            frames += len(batch)
        put_checked(styled, END, sink)
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
    return frames, timer.seconds


def _batches(
    decoded: queue.Queue, stop: threading.Event, reader: Worker, batch_size: int
) -> Iterator[list[np.ndarray]]:
    batch: list[np.ndarray] = []
    while (frame := get(decoded, stop)) is not END:
        batch.append(frame)
        if len(batch) == batch_size:
            yield batch
            batch = []
    if reader.error is not None:
        raise reader.error
    if batch:
        yield batch
