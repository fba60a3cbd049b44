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

from shared.cli import (
    add_device_argument,
    add_precision_argument,
    add_run_dir_argument,
    add_threads_argument,
    default_of,
    given,
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
TRAINING = ("epochs", "batch_size", "lr", "precision", "checkpoint_every", "workers", "seed")


def _weights(text: str) -> tuple[float, ...]:
    try:
        return tuple(float(v) for v in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected numbers joined by commas: {text!r}") from None


def _widths(text: str) -> tuple[int, int, int]:
    try:
        values = tuple(int(v) for v in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected three channel counts, got {text!r}") from None
    if len(values) != 3 or min(values) < 1:
        raise argparse.ArgumentTypeError(f"expected three positive channel counts, got {text!r}")
    return values  # type: ignore[return-value]


def _settings(name: str) -> str:
    return f"(default: {default_of(JohnsonSettings, name)})"


def _training(name: str) -> str:
    return f"(default: {default_of(JohnsonTraining, name)})"


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
        type=_widths,
        metavar="C1,C2,C3",
        help="channels, as in the paper (default: "
        f"{','.join(map(str, default_of(JohnsonSettings, 'widths')))})",
    )
    net.add_argument("--residual-blocks", type=int, help=_settings("residual_blocks"))
    fit_ = p.add_argument_group("training")
    fit_.add_argument("--epochs", type=int, help="passes over the photos (2; 1 on the demo set)")
    fit_.add_argument("--batch-size", type=int, help=_training("batch_size"))
    fit_.add_argument("--lr", type=float, help=_training("lr"))
    add_precision_argument(fit_)
    fit_.add_argument(
        "--checkpoint-every", type=int, metavar="BATCHES", help=_training("checkpoint_every")
    )
    fit_.add_argument(
        "--preview-every", type=int, metavar="BATCHES", help=_settings("preview_every")
    )
    fit_.add_argument("--workers", type=int, help=f"DataLoader processes {_training('workers')}")
    fit_.add_argument("--seed", type=int, help=_training("seed"))
    add_device_argument(fit_)
    add_threads_argument(fit_)
    out = p.add_argument_group("output")
    add_run_dir_argument(out, "run folder (default runs/style_transfer/...)")
    out.add_argument("--resume", type=Path, metavar="RUN", help="continue a killed run exactly")
    out.add_argument(
        "--out", type=Path, help="model file (default: registered in the user's styles)"
    )
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
