"""Train the arbitrary-style network's decoder (AdaIN), then stylise with any painting.

    make train-arbitrary                                   # demo photos, generated paintings
    make train-arbitrary PHOTOS=~/coco/train2017 STYLES=~/wikiart/train   # the paper's corpora
    python -m style_transfer train-arbitrary --resume runs/style_transfer/<stamp>-train-arbitrary
    make stylize METHOD=arbitrary STYLE_IMAGE=painting.jpg

PHOTOS and STYLES are folders of images (searched recursively), resized and centre-cropped to
--image-size. Without PHOTOS, crops of scikit-image's sample photos; without STYLES, the generated
painting corpus (random strokes, stained glass, prints and recoloured bundled painters). Each
photo is paired with a painting drawn by its index, so a resume sees the same pairs. The run
folder holds checkpoints every --checkpoint-every steps, curves, a sheet of held-out photos
under held-out paintings, and the decoder; it is registered beside the user's styles unless
--out names the file. With --resume the run's own settings are used; --epochs beyond the
planned count continues the run that far.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from shared.cli import default_of, given
from style_transfer.arbitrary.encoder import ENCODER_CHOICES
from style_transfer.arbitrary.recipe import ArbitraryRequest, ArbitrarySettings, ArbitraryTraining
from style_transfer.arbitrary.train import train_arbitrary
from style_transfer.cli.training_flags import (
    TRAINING,
    add_output_arguments,
    add_training_arguments,
    channel_counts,
)

SETTINGS = ("photos", "styles", "image_size", "encoder", "widths", "style_weight",
            "own_style_share", "reconstruction_weight", "photo_weight", "demo_images",
            "generated_styles", "out")  # fmt: skip


def _s(name: str) -> str:
    return f"(default: {default_of(ArbitrarySettings, name)})"


def add_arguments(p: argparse.ArgumentParser) -> None:
    data = p.add_argument_group("photos and paintings")
    data.add_argument("--photos", type=Path, help="folder of photos (default: demo set)")
    data.add_argument("--styles", type=Path, help="folder of paintings (default: generated)")
    data.add_argument("--image-size", type=int, help=f"training crop side {_s('image_size')}")
    data.add_argument("--demo-images", type=int, metavar="N", help=_s("demo_images"))
    data.add_argument("--generated-styles", type=int, metavar="N", help=_s("generated_styles"))
    net = p.add_argument_group("network and loss")
    net.add_argument(
        "--encoder",
        choices=ENCODER_CHOICES,
        help=f"auto: vgg19 when its ImageNet weights are available offline {_s('encoder')}",
    )
    net.add_argument(
        "--widths",
        type=channel_counts(4, "1/8, 1/4, 1/2 and full scale"),
        metavar="C1,C2,C3,C4",
        help="decoder channels at 1/8, 1/4, 1/2 and full scale (default: "
        f"{','.join(map(str, default_of(ArbitrarySettings, 'widths')))})",
    )
    net.add_argument("--style-weight", type=float, help=_s("style_weight"))
    net.add_argument(
        "--own-style-share",
        type=float,
        help="share of each batch styled by its own photo (teaches alpha 0) "
        f"{_s('own_style_share')}",
    )
    net.add_argument("--reconstruction-weight", type=float, help=_s("reconstruction_weight"))
    net.add_argument(
        "--photo-weight",
        type=float,
        help="keep the photo's own deep features, as Gatys's content term does "
        f"{_s('photo_weight')}",
    )
    fit = p.add_argument_group("training")
    add_training_arguments(
        fit,
        ArbitraryTraining,
        epochs_help=f"passes over the pairs; with --resume, more continue the run "
        f"(default: {default_of(ArbitraryTraining, 'epochs')})",
        checkpoint_unit="STEPS",
    )
    add_output_arguments(p, "decoder file (default: the user's decoder)")


def request_from(args: argparse.Namespace) -> ArbitraryRequest:
    settings = given(args, *SETTINGS)
    settings.update({k: str(v) for k, v in settings.items() if isinstance(v, Path)})
    return ArbitraryRequest(
        settings=ArbitrarySettings(**settings),
        training=ArbitraryTraining(**given(args, *TRAINING)),
        epochs=args.epochs if args.resume else None,
        **given(args, "run", "resume", "device", "threads"),
    )


def run(args: argparse.Namespace) -> int:
    train_arbitrary(request_from(args))
    return 0
