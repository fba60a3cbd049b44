"""Stylise a photo with a named style: a trained network (Johnson) or optimisation (Gatys).

    make stylize STYLE=starry               # bundled photo and style: trained network, seconds
    make stylize STYLE=starry METHOD=gatys  # optimise the image instead: minutes on a CPU
    python -m style_transfer stylize --style starry --content astronaut --size 512
    python -m style_transfer stylize --style monet --style-image monet.jpg --content me.jpg
    python -m style_transfer stylize --style-image a.jpg --style-image b.jpg --style-weights 0.7,0.3
    python -m style_transfer stylize --style wave --scales 256,512,1024 --preserve-color
    python -m style_transfer stylize --style starry --content chelsea --preserve-color
    python -m style_transfer stylize --style starry --content photos/ --backend onnxruntime
    python -m style_transfer stylize --method arbitrary --style-image painting.jpg --alpha 0.7
    torchrun --nproc_per_node 2 -m style_transfer stylize --style starry --content photos/

--method auto uses a trained feed-forward (Johnson) model when the style has one (the user's
trained styles first, then style_transfer/styles/models/), else optimises the image (Gatys).
A --style-image is always used, so it means Gatys: a trained model keeps the image it was
trained on (--method johnson with --style-image is refused). The sheet and the run folder are
named after the image's file; --style is then only the name kept in the record.
A network keeps the photo's size (--size caps it) and takes a folder or several photos too
(--content photos/ or --content a.jpg,b.jpg); photos among them that cannot be read are skipped
and listed (one warning line with the count), and the command fails only if none can be read.
--method arbitrary runs one network trained for any painting (AdaIN): any --style-image, blends
with --style-weights, --alpha between photo and style, folders and any size as a trained model.
A Gatys option below set away from its default makes --method auto run Gatys (one line says
which); --method johnson refuses it.
--backend onnxruntime runs the network in onnxruntime (CPU, fp32), exported to ONNX once and
cached. Under torchrun each process stylises its share of the photos into one run folder, and
the first writes the sheet and the record: the files one process with the same threads writes.
Writes the image, a loss plot and a side-by-side sheet (content, style, result): next to --out
(<name>-loss.png, <name>-sheet.png, <name>-config.json), or in a new run folder
runs/style_transfer/<timestamp>-<style>/ (stylized.png, plots/loss.png, plots/sheet.png,
config.json). Nothing is written when the run fails: every input is read before any work.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from shared import backbones
from shared.cli import (
    add_compile_argument,
    add_device_argument,
    add_precision_argument,
    add_threads_argument,
    default_of,
    given,
)
from style_transfer.gatys.config import INIT_CHOICES, OPTIMIZER_CHOICES, PAPER_BACKBONE, GatysConfig
from style_transfer.images import SAMPLE_PHOTOS
from style_transfer.loss_network import (
    BACKBONE_CHOICES,
    FALLBACK,
    POOLING_CHOICES,
    PRESETS,
    LossNetworkConfig,
)
from style_transfer.losses import LOSS_CHOICES
from style_transfer.request import (
    BACKEND_CHOICES,
    GATYS_OPTIONS,
    METHOD_CHOICES,
    StylizeRequest,
    run_stylize,
)


def _floats(text: str) -> list[float]:
    try:
        return [float(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected comma-separated numbers, got {text!r}"
        ) from None


def _ints(text: str) -> list[int]:
    try:
        values = [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated sizes, got {text!r}") from None
    if not values or min(values) < 1:
        raise argparse.ArgumentTypeError(f"sizes must be positive integers, got {text!r}")
    return values


def _layer_weights(text: str) -> dict[str, float]:
    """``relu1_1,relu2_1:0.5`` -> {"relu1_1": 1.0, "relu2_1": 0.5}."""
    out = {}
    for item in text.split(","):
        name, _, weight = item.strip().partition(":")
        try:
            out[name] = float(weight) if weight else 1.0
        except ValueError:
            raise argparse.ArgumentTypeError(f"bad layer weight in {item!r}") from None
    return out


def _gatys(name: str) -> str:
    return f"(default: {default_of(GatysConfig, name)})"


def add_arguments(p: argparse.ArgumentParser) -> None:
    io = p.add_argument_group("what and where")
    io.add_argument(
        "--style",
        help="style name, or names joined by commas to blend bundled styles "
        f"(default: {default_of(StylizeRequest, 'style')})",
    )
    io.add_argument(
        "--style-image",
        action="append",
        type=Path,
        metavar="PATH",
        help="stylise with this image instead of the style's own (the gatys method: a trained "
        "model keeps its own image); the sheet names it by its file name; repeat to blend",
    )
    io.add_argument(
        "--style-weights",
        type=_floats,
        metavar="W1,W2",
        help="blend weights of the style images (default: equal)",
    )
    io.add_argument(
        "--content",
        help=f"photo path or sample name: {', '.join(SAMPLE_PHOTOS)} "
        f"(default: {default_of(StylizeRequest, 'content')})",
    )
    io.add_argument("--out", type=Path, help="output image (.png/.jpg); default: a run folder")
    io.add_argument(
        "--method",
        choices=METHOD_CHOICES,
        help="auto: a trained network (johnson) when the style has one and no gatys option is "
        "set, else gatys; arbitrary: one network for any style image (also chosen by --alpha) "
        f"(default: {default_of(StylizeRequest, 'method')})",
    )
    io.add_argument(
        "--size",
        type=int,
        help=f"longer side of the result (default: gatys {default_of(GatysConfig, 'scales')[-1]}; "
        "johnson: the photo's own)",
    )
    io.add_argument(
        "--scales",
        type=_ints,
        metavar="S1,S2,...",
        help="multi-scale: optimise at each size in turn, e.g. 256,512,1024",
    )
    io.add_argument("--iters", type=int, help=f"optimiser steps per scale {_gatys('iters')}")
    net = p.add_argument_group("loss network (gatys)")
    net.add_argument(
        "--backbone",
        choices=BACKBONE_CHOICES,
        help=f"auto: {PAPER_BACKBONE} when its ImageNet weights are available offline, else "
        f"{FALLBACK} (default: {default_of(LossNetworkConfig, 'backbone')})",
    )
    net.add_argument(
        "--pretrained",
        choices=backbones.PRETRAINED_CHOICES,
        help=f"ImageNet weights (default: {default_of(LossNetworkConfig, 'pretrained')})",
    )
    net.add_argument(
        "--pooling",
        choices=POOLING_CHOICES,
        help="avg (the paper's choice) or max; auto: avg, but max for VGG/AlexNet with random "
        f"weights (default: {default_of(LossNetworkConfig, 'pooling')})",
    )
    net.add_argument(
        "--content-layers",
        type=lambda t: list(_layer_weights(t)),
        metavar="L1,L2",
        help="content layers (default per network: "
        f"{', '.join(dict.fromkeys(c for p in PRESETS.values() for c in p.content))})",
    )
    net.add_argument(
        "--style-layers",
        type=_layer_weights,
        metavar="L1[:W],L2[:W]",
        help="style layers with optional relative weights",
    )
    opt = p.add_argument_group("optimisation (gatys)")
    opt.add_argument("--optimizer", choices=OPTIMIZER_CHOICES, help=_gatys("optimizer"))
    opt.add_argument("--lr", type=float, help="step size (default per optimiser)")
    opt.add_argument("--loss", choices=LOSS_CHOICES, help=_gatys("loss"))
    opt.add_argument("--init", choices=INIT_CHOICES, help=_gatys("init"))
    opt.add_argument("--content-weight", type=float, help=_gatys("content_weight"))
    opt.add_argument("--style-weight", type=float, help=_gatys("style_weight"))
    opt.add_argument("--tv-weight", type=float, help=_gatys("tv_weight"))
    opt.add_argument(
        "--style-scale",
        type=float,
        help=f"style image size relative to the result (bigger: bigger strokes) "
        f"{_gatys('style_scale')}",
    )
    opt.add_argument(
        "--layer-norm",
        dest="normalize",
        action=argparse.BooleanOptionalAction,
        help="divide each layer's loss by its target's magnitude (the default); "
        "--no-layer-norm gives the paper's raw weighting",
    )
    opt.add_argument(
        "--seed", type=int, help=f"for noise starts and random weights {_gatys('seed')}"
    )
    io.add_argument(
        "--preserve-color",
        action="store_true",
        default=None,
        help="keep the photo's colours, take the style's luminance only (either method)",
    )
    arb = p.add_argument_group("arbitrary-style network")
    arb.add_argument(
        "--alpha",
        type=float,
        help="0: the photo's own features, 1: the style's statistics (default: 1)",
    )
    arb.add_argument(
        "--decoder",
        type=Path,
        metavar="FILE",
        help="a decoder trained by make train-arbitrary (default: the user's, else the shipped)",
    )
    run_ = p.add_argument_group("compute")
    add_device_argument(run_)
    add_threads_argument(run_)
    add_precision_argument(run_)
    add_compile_argument(run_)
    run_.add_argument(
        "--backend",
        choices=BACKEND_CHOICES,
        help="what runs the trained network: torch, or onnxruntime (the network exported to "
        "ONNX once, cached; CPU, fp32, --threads intra-op threads; pip install onnxruntime) "
        f"(default: {default_of(StylizeRequest, 'backend')})",
    )


def run(args: argparse.Namespace) -> int:
    request = StylizeRequest(
        **given(args, "style", "style_weights", "content", "out", "method", "size"),
        **given(args, "device", "threads", "precision", "backend", "preserve_color"),
        **given(args, "alpha", "decoder", "compile"),
        style_images=tuple(args.style_image or ()),
        options=given(args, *GATYS_OPTIONS),
    )
    run_stylize(request)
    return 0
