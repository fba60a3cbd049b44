"""Stylise a video with a trained network: same fps, frame size and frame count, audio kept.

    python -m style_transfer video clip.mp4 --style starry [--out clip_starry.mp4]
    python -m style_transfer video clip.mp4 --model my_style.safetensors --stabilize 0.5
    make stylize-video STYLE=starry VIDEO=clip.mp4 [OUT=out.mp4] [ARGS="--stabilize"]
    make stylize-video STYLE=starry VIDEO=clip.mp4 ARGS="--precision bf16"
    make stylize-video STYLE=starry VIDEO=clip.mp4 ARGS="--preserve-color"
    make stylize-video STYLE=starry VIDEO=clip.mp4 ARGS="--compare-flicker"

Frames stream through (decode, stylise in batches, encode); none is written to disk. The output is
H.264 with the input's audio (or mp4v without audio: --codec mp4v), written under a temporary name
and renamed when complete; a killed run's temporary is removed by the next run to that folder. A
video that ends before the frame count its container lists (truncated, damaged) is refused with
nothing written, unless --allow-partial. --stabilize blends each frame with the previous one
moved along the optical flow, to calm flicker; the warping error printed at the end measures
that flicker (Lai et al. 2018; lower is steadier; the input's own value shows the floor the flow
leaves). --precision is the network's, as for stylize (auto: bf16 where the hardware computes
it natively and it is faster on this model); the summary names it, and the threads the network,
the decoder and the encoder got out of one CPU budget (--threads).
A style that ships a network trained with the temporal loss (<style>.steady.safetensors) runs
with it (--per-frame: the photo network); --compare-flicker runs the clip per frame, with
--stabilize and with the trained network, and tables their flicker beside their style distance.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from shared.cli import (
    add_compile_argument,
    add_device_argument,
    add_precision_argument,
    add_threads_argument,
    default_of,
    given,
)
from style_transfer.video.codec import CODECS
from style_transfer.video.stream import VideoRequest, run_video


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("video", type=Path, metavar="VIDEO", help="input video file")
    which = parser.add_mutually_exclusive_group()
    which.add_argument("--style", help="name of a style with a trained model")
    which.add_argument("--model", type=Path, help="a model file (.safetensors) from training")
    parser.add_argument("--out", type=Path, help="output video (default: VIDEO_<style>.mp4)")
    parser.add_argument(
        "--batch-size",
        type=int,
        help=f"frames per forward pass (default: {default_of(VideoRequest, 'batch_size')})",
    )
    parser.add_argument(
        "--stabilize",
        type=float,
        nargs="?",
        const=0.5,
        metavar="STRENGTH",
        help="blend with the previous frame along the optical flow, 0-1 (alone: 0.5; "
        f"default: {default_of(VideoRequest, 'stabilize')}, off)",
    )
    parser.add_argument(
        "--codec",
        choices=CODECS,
        help="h264 (PyAV, keeps audio) or mp4v "
        f"(default: {default_of(VideoRequest, 'codec')}: h264 when PyAV has libx264)",
    )
    parser.add_argument(
        "--allow-partial",
        action="store_true",
        default=None,
        help="keep the frames a truncated or damaged video decodes (a warning); without it "
        "such a video is refused and nothing is written",
    )
    parser.add_argument(
        "--preserve-color",
        action="store_true",
        default=None,
        help="keep every frame's colours, take the style's luminance only",
    )
    parser.add_argument(
        "--per-frame",
        action="store_true",
        default=None,
        help="the style's photo network, even where one trained for video (less flicker) ships",
    )
    parser.add_argument(
        "--compare-flicker",
        action="store_true",
        help="stylise the clip per frame, per frame with --stabilize 0.5, and with the style's "
        "network trained for video; print and write (<out>-flicker.md) each one's warping error "
        "and style distance",
    )
    add_device_argument(parser)
    add_threads_argument(parser)
    add_precision_argument(parser)
    add_compile_argument(parser)


def run(args: argparse.Namespace) -> int:
    names = ("style", "model", "out", "batch_size", "stabilize", "codec", "allow_partial")
    names += ("preserve_color", "per_frame")
    names += ("device", "threads", "precision", "compile")
    request = VideoRequest(args.video, **given(args, *names))
    if args.compare_flicker:
        from style_transfer.video.flicker import compare_flicker

        compare_flicker(request)
    else:
        run_video(request)
    return 0
