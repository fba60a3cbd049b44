"""Stylise a video with a trained network: same fps, frame size and frame count, audio kept.

    python -m style_transfer video clip.mp4 --style starry [--out clip_starry.mp4]
    python -m style_transfer video clip.mp4 --model my_style.safetensors --stabilize 0.5
    make stylize-video STYLE=starry VIDEO=clip.mp4 [OUT=out.mp4] [ARGS="--stabilize"]

Frames stream through (decode, stylise in batches, encode); none is written to disk. The output is
H.264 with the input's audio (or mp4v without audio: --codec mp4v), written under a temporary name
and renamed when complete. --stabilize blends each frame with the previous one moved along the
optical flow, to calm flicker; the warping error printed at the end measures that flicker
(Lai et al. 2018; lower is steadier; the input's own value shows the floor the flow leaves).
"""

from __future__ import annotations

import argparse
import sys
import warnings
from pathlib import Path

from shared.device import DEVICE_CHOICES, describe, pick_device
from shared.errors import UserError
from style_transfer.styles import get_style
from style_transfer.transformer_net import load_model
from style_transfer.video import CODECS, check_request, probe, stylize_video


def model_for(style: str | None, model: Path | None) -> Path:
    """The model file for ``--model PATH`` or ``--style NAME`` (the style registry's lookup:
    the user's trained styles first, then the shipped models)."""
    if model is not None:
        return model
    if not style:
        raise UserError("say which style: --style NAME or --model PATH")
    path = get_style(style).model_path
    if not path.is_file():
        raise UserError(
            f"no trained model for style {style!r} ({path} is missing): "
            f"train one with 'make train-style STYLE={style} DATA=dir', or pass --model PATH"
        )
    return path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("video", type=Path, metavar="VIDEO", help="input video file")
    which = parser.add_mutually_exclusive_group()
    which.add_argument("--style", help="name of a style with a trained model")
    which.add_argument("--model", type=Path, help="a model file (.safetensors) from training")
    parser.add_argument("--out", type=Path, help="output video (default: VIDEO_<style>.mp4)")
    parser.add_argument("--batch-size", type=int, default=4, help="frames per forward pass")
    parser.add_argument(
        "--stabilize",
        type=float,
        nargs="?",
        const=0.5,
        default=0.0,
        metavar="STRENGTH",
        help="blend with the previous frame along the optical flow, 0-1 (alone: 0.5)",
    )
    parser.add_argument("--device", default="auto", choices=DEVICE_CHOICES)
    parser.add_argument(
        "--codec", default="auto", choices=CODECS, help="h264 (PyAV, keeps audio) or mp4v"
    )


def run(args: argparse.Namespace) -> int:
    path = model_for(args.style, args.model)
    out = args.out or args.video.with_name(f"{args.video.stem}_{args.style or path.stem}.mp4")
    with warnings.catch_warnings():
        warnings.showwarning = _one_line_warning
        # everything cheap to check is checked before the model loads
        check_request(args.video, out, args.codec, args.batch_size, args.stabilize)
        probe(args.video)
        try:
            device = pick_device(args.device)
        except RuntimeError as exc:
            raise UserError(str(exc)) from None
        model, meta = load_model(path, device)
        style = meta.get("style", path.stem)
        print(f"model {path} ({style}) on {describe(device)}", file=sys.stderr)
        report = stylize_video(
            model,
            args.video,
            out,
            batch_size=args.batch_size,
            stabilize=args.stabilize,
            codec=args.codec,
        )
    for note in report.notes:
        print(f"warning: {note}", file=sys.stderr)
    print(f"wrote {out}: {report.summary()}")
    return 0


def _one_line_warning(message, category, filename, lineno, file=None, line=None) -> None:
    print(f"warning: {message}", file=sys.stderr)
