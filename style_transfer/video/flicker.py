"""One clip three ways: how much each way of stylising it flickers, at what style distance.

    make stylize-video STYLE=starry VIDEO=clip.mp4 ARGS=--compare-flicker
    from style_transfer.video.flicker import compare_flicker
    rows = compare_flicker(VideoRequest(Path("clip.mp4"), style="starry"))

The ways: the style's photo network frame by frame; the same with the post-hoc ``--stabilize``
(0.5: each frame keeps half of the previous output moved along the optical flow); and the style's
network trained with the temporal loss (``<style>.steady.safetensors``), when it has one. Each
writes its video beside the output (``<out>.per-frame.mp4``, ``<out>.stabilized.mp4``, and the
output itself for the trained one) and is measured the same way: the warping error of Lai et al.
2018 (:mod:`style_transfer.video.temporal`), and the style distance to the painting
(:mod:`style_transfer.quality`) of evenly spaced frames, so that less flicker is not bought by
less style. The table is printed and written to ``<out>-flicker.md``.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass, replace
from pathlib import Path

import cv2
import numpy as np

from shared.atomic import atomic_write_text
from shared.errors import UserError
from style_transfer.images import read_photo
from style_transfer.quality import QualityMeter
from style_transfer.styles import get_style
from style_transfer.video.codec import open_capture
from style_transfer.video.stream import VideoReport, VideoRequest, run_video

STABILIZE = 0.5
STYLE_FRAMES = 8  # evenly spaced frames whose style distance is averaged


@dataclass(frozen=True)
class FlickerRow:
    way: str
    video: Path
    warping_error: float
    style_distance: float
    frames_per_second: float


def sampled_frames(path: Path, count: int = STYLE_FRAMES) -> list[np.ndarray]:
    """``count`` evenly spaced RGB frames of ``path`` (all of them when it has fewer)."""
    capture = open_capture(path, 1)
    frames = []
    try:
        while True:
            ok, bgr = capture.read()
            if not ok:
                break
            frames.append(bgr)
    finally:
        capture.release()
    picks = np.linspace(0, len(frames) - 1, min(count, len(frames))).round().astype(int)
    return [cv2.cvtColor(frames[i], cv2.COLOR_BGR2RGB) for i in sorted(set(picks))]


def _ways(request: VideoRequest, out: Path) -> list[tuple[str, VideoRequest]]:
    photo = replace(request, per_frame=True)
    ways = [
        ("per frame", replace(photo, out=out.with_suffix(".per-frame" + out.suffix))),
        (f"per frame, --stabilize {STABILIZE}",
         replace(photo, stabilize=STABILIZE, out=out.with_suffix(".stabilized" + out.suffix))),
    ]  # fmt: skip
    if get_style(request.style).steady_model_path is not None:  # type: ignore[arg-type]
        ways.append(
            ("trained for video (temporal loss)", replace(request, per_frame=False, out=out))
        )
    return ways


def compare_flicker(request: VideoRequest) -> list[FlickerRow]:
    """Stylise the clip each way, measure each; returns the rows (also printed and written)."""
    if request.style is None or request.model is not None:
        raise UserError("--compare-flicker compares a style's networks: give --style, not --model")
    src = request.video
    out = request.out or src.with_name(f"{src.stem}_{request.style}.mp4")
    painting = read_photo(get_style(request.style).image_path)
    meter = QualityMeter()
    rows = []
    for way, asked in _ways(request, out):
        print(f"-- {way}", flush=True)
        report: VideoReport = run_video(asked)
        distance = statistics.mean(
            meter.style_distance(frame, painting)[0]
            for frame in sampled_frames(asked.out)  # type: ignore[arg-type]
        )
        rate = report.frames / report.seconds if report.seconds else 0.0
        rows.append(FlickerRow(way, asked.out, report.warping_error, distance, rate))  # type: ignore[arg-type]
    text = flicker_table(rows, request.style, report.input_warping_error)
    atomic_write_text(out.with_name(out.stem + "-flicker.md"), text)
    print(text)
    return rows


def flicker_table(rows: list[FlickerRow], style: str, input_error: float) -> str:
    first = rows[0]
    lines = [
        f"Flicker of {style!r} on one clip (warping error, Lai et al. 2018: lower is steadier; "
        f"the input itself: {input_error:.5f})",
        "",
        "| way | warping error | against per frame | style distance | against per frame "
        "| frames/s | video |",
        "|---|---:|---:|---:|---:|---:|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r.way} | {r.warping_error:.5f} | {r.warping_error / first.warping_error:.2f}x "
            f"| {r.style_distance:.3f} | {r.style_distance / first.style_distance - 1:+.1%} "
            f"| {r.frames_per_second:.1f} | {r.video.name} |"
        )
    return "\n".join(lines) + "\n"
