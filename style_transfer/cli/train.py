"""Train a feed-forward network for one style (Johnson et al.), then stylise in one pass.

    make train-style STYLE=monet STYLE_IMAGE=monet.jpg DATA=~/coco/train2017
    make train-style STYLE=monet STYLE_IMAGE=monet.jpg       # no DATA: demo set, CPU-sized
    python -m style_transfer train --style starry --data photos/ --epochs 2 --export onnx
    python -m style_transfer train --resume runs/style_transfer/<stamp>-train-monet
    make stylize STYLE=monet                                 # uses the trained model

DATA is any folder of photos (searched recursively; COCO train2017 in the paper), resized and
centre-cropped to --image-size, shuffled every epoch. Without DATA, a demo set of crops of
scikit-image's sample photos. The run folder (runs/style_transfer/<stamp>-train-<style>/) holds
checkpoints every --checkpoint-every batches, preview sheets every --preview-every batches, the
curves and the model; --resume continues a killed run exactly. The finished model is registered
in the user's styles ($XDG_DATA_HOME/visionlab/styles, default ~/.local/share/visionlab/styles)
unless --out names the model file. With --resume, the run's own settings are used and the other
flags but --device and --epochs are ignored (--epochs beyond the planned count continues a run
that far, finished or not): the resume computes with the run's recorded thread count (the
--threads it was started with, or the idle cores then; printed with the device), and warns when
the library versions differ from those recorded in its config.json.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from shared.cli import default_of, given
from style_transfer.cli.training_flags import (
    TRAINING,
    add_output_arguments,
    add_training_arguments,
    channel_counts,
)
from style_transfer.johnson.loss import LOSS_BACKBONES, PAPER_BACKBONE
from style_transfer.johnson.recipe import (
    EXPORT_CHOICES,
    JohnsonSettings,
    JohnsonTraining,
    TrainRequest,
)
from style_transfer.johnson.train import train_style
from style_transfer.loss_network import FALLBACK, POOLING_CHOICES

SETTINGS = ("style", "data", "image_size", "style_size", "backbone", "pooling", "content_weight",
            "style_weight", "tv_weight", "style_layer_weights", "temporal_weight", "widths",
            "residual_blocks", "demo_images",
            "preview_every", "out")  # fmt: skip


def _weights(text: str) -> tuple[float, ...]:
    try:
        return tuple(float(v) for v in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected numbers joined by commas: {text!r}") from None


def _settings(name: str) -> str:
    return f"(default: {default_of(JohnsonSettings, name)})"


def add_arguments(p: argparse.ArgumentParser) -> None:
    what = p.add_argument_group("style and photos")
    what.add_argument("--style", help=f"name the model is registered under {_settings('style')}")
    what.add_argument("--style-image", type=Path, metavar="PATH", help="the style's image")
    what.add_argument("--data", type=Path, help="folder of training photos (default: demo set)")
    what.add_argument(
        "--image-size", type=int, help=f"training crop side {_settings('image_size')}"
    )
    what.add_argument(
        "--style-size",
        type=int,
        help=f"style image's longer side; bigger: bigger strokes {_settings('style_size')}",
    )
    what.add_argument(
        "--demo-images",
        type=int,
        metavar="N",
        help=f"photos in the demo set, when no --data is given {_settings('demo_images')}",
    )
    loss = p.add_argument_group("loss")
    loss.add_argument(
        "--backbone",
        choices=LOSS_BACKBONES,
        help=f"loss network; auto: {PAPER_BACKBONE} with ImageNet weights if available "
        f"offline, else {FALLBACK} {_settings('backbone')}",
    )
    loss.add_argument("--pooling", choices=POOLING_CHOICES, help=_settings("pooling"))
    loss.add_argument("--content-weight", type=float, help=_settings("content_weight"))
    loss.add_argument("--style-weight", type=float, help=_settings("style_weight"))
    loss.add_argument("--tv-weight", type=float, help=_settings("tv_weight"))
    loss.add_argument(
        "--style-layer-weights",
        type=_weights,
        metavar="W1,W2,...",
        help="one weight per style layer of the loss network, shallow to deep; larger deep "
        "weights give larger structures (default: all equal)",
    )
    loss.add_argument(
        "--temporal-weight",
        type=float,
        help="weight of the temporal loss: each batch is also stylised moved by a known random "
        "motion, and the two results must move alike, so video does not flicker (twice the "
        f"network's work per step; the squared pixel error is about 0.01, so about 1000 weighs "
        f"it like the style term; 0: off) {_settings('temporal_weight')}",
    )
    net = p.add_argument_group("network")
    net.add_argument(
        "--widths",
        type=channel_counts(3, "full, 1/2 and 1/4 scale"),
        metavar="C1,C2,C3",
        help="channels, as in the paper (default: "
        f"{','.join(map(str, default_of(JohnsonSettings, 'widths')))})",
    )
    net.add_argument("--residual-blocks", type=int, help=_settings("residual_blocks"))
    fit = p.add_argument_group("training")
    add_training_arguments(
        fit,
        JohnsonTraining,
        epochs_help="passes over the photos (2; 1 on the demo set); with --resume, more "
        "continue the run",
        checkpoint_unit="BATCHES",
    )
    fit.add_argument(
        "--preview-every", type=int, metavar="BATCHES", help=_settings("preview_every")
    )
    out = add_output_arguments(p, "model file (default: registered in the user's styles)")
    out.add_argument("--export", choices=EXPORT_CHOICES, help="also write the model as ONNX")


def request_from(args: argparse.Namespace) -> TrainRequest:
    """The flags as a :class:`TrainRequest` (what ``run`` trains; tests train it their way)."""
    return TrainRequest(
        settings=JohnsonSettings(**given(args, *SETTINGS)),
        training=JohnsonTraining(**given(args, *TRAINING)),
        **given(args, "style_image", "run", "resume", "device", "threads", "export"),
    )


def run(args: argparse.Namespace) -> int:
    train_style(request_from(args))
    return 0
