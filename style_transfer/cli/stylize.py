"""Stylise a photo with a named style: a trained network (Johnson) or optimisation (Gatys).

    make stylize STYLE=starry               # bundled photo and style: trained network, seconds
    make stylize STYLE=starry METHOD=gatys  # optimise the image instead: minutes on a CPU
    python -m style_transfer stylize --style starry --content astronaut --size 512
    python -m style_transfer stylize --style monet --style-image monet.jpg --content me.jpg \
        --out me.png
    python -m style_transfer stylize --style-image a.jpg --style-image b.jpg \
        --style-weights 0.7,0.3
    python -m style_transfer stylize --style wave --scales 256,512,1024 --preserve-color

--method auto uses a trained feed-forward (Johnson) model when the style has one (the user's
trained styles first, then style_transfer/styles/models/), else optimises the image (Gatys).
A network keeps the photo's size (--size caps it) and takes a folder or several photos too
(--content photos/ or --content a.jpg,b.jpg).
Writes the image, a loss plot and a side-by-side sheet (content, style, result): next to --out
(<name>-loss.png, <name>-sheet.png, <name>-config.json), or in a new run folder
runs/style_transfer/<timestamp>-<style>/ (stylized.png, plots/loss.png, plots/sheet.png,
config.json). Nothing is written when the run fails.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict
from pathlib import Path

import torch

from shared import backbones
from shared.atomic import atomic_write_text
from shared.device import DEVICE_CHOICES, describe, pick_device
from shared.errors import UserError
from shared.plotting import plot_metric_panels, save_image_grid
from shared.runs import RunPaths, new_run_dir
from shared.threads import auto_threads
from style_transfer.features import (
    BACKBONE_CHOICES,
    POOLING_CHOICES,
    LossNetwork,
    build_loss_network,
    resolve_backbone,
)
from style_transfer.gatys import (
    INIT_CHOICES,
    OPTIMIZER_CHOICES,
    GatysConfig,
    GatysResult,
    NonFiniteLoss,
    SizeTooSmall,
    normalise_blend,
    stylize,
)
from style_transfer.imageio import DEFAULT_CONTENT, check_writable, read_image, resize, save_image
from style_transfer.losses import LOSS_CHOICES
from style_transfer.styles import Style, get_style

METHOD_CHOICES = ("auto", "gatys", "johnson")
APP = "style_transfer"
DEFAULT_SIZE = 512
DEFAULT_ITERS = 200


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


def add_arguments(p: argparse.ArgumentParser) -> None:
    io = p.add_argument_group("what and where")
    io.add_argument(
        "--style",
        default="starry",
        help="style name, or names joined by commas to blend bundled styles (default: starry)",
    )
    io.add_argument(
        "--style-image",
        action="append",
        type=Path,
        metavar="PATH",
        help="use this image under the name --style; repeat to blend several",
    )
    io.add_argument(
        "--style-weights",
        type=_floats,
        metavar="W1,W2",
        help="blend weights of the style images (default: equal)",
    )
    io.add_argument(
        "--content",
        default=DEFAULT_CONTENT,
        help=f"photo path or sample name: astronaut, chelsea, coffee, rocket "
        f"(default: {DEFAULT_CONTENT})",
    )
    io.add_argument("--out", type=Path, help="output image (.png/.jpg); default: a run folder")
    io.add_argument("--method", choices=METHOD_CHOICES, default="auto")
    io.add_argument("--size", type=int, help=f"longer side of the result (default {DEFAULT_SIZE})")
    io.add_argument(
        "--scales",
        type=_ints,
        metavar="S1,S2,...",
        help="multi-scale: optimise at each size in turn, e.g. 256,512,1024",
    )
    io.add_argument(
        "--iters",
        type=int,
        default=DEFAULT_ITERS,
        help=f"optimiser steps per scale (default {DEFAULT_ITERS})",
    )
    net = p.add_argument_group("loss network")
    net.add_argument(
        "--backbone",
        choices=BACKBONE_CHOICES,
        default="auto",
        help="auto: vgg19 when its ImageNet weights are available offline, else efficientnet_lite0",
    )
    net.add_argument("--pretrained", choices=backbones.PRETRAINED_CHOICES, default="auto")
    net.add_argument(
        "--pooling",
        choices=POOLING_CHOICES,
        default="auto",
        help="avg (the paper's choice) or max; auto: avg, but max for VGG/AlexNet with random "
        "weights",
    )
    net.add_argument(
        "--content-layers",
        type=lambda t: list(_layer_weights(t)),
        metavar="L1,L2",
        help="content layers (default per network: relu4_2, relu4, block7)",
    )
    net.add_argument(
        "--style-layers",
        type=_layer_weights,
        metavar="L1[:W],L2[:W]",
        help="style layers with optional relative weights",
    )
    opt = p.add_argument_group("optimisation")
    opt.add_argument("--optimizer", choices=OPTIMIZER_CHOICES, default="lbfgs")
    opt.add_argument("--lr", type=float, help="step size (default per optimiser)")
    opt.add_argument("--loss", choices=LOSS_CHOICES, default="mse")
    opt.add_argument("--init", choices=INIT_CHOICES, default="content")
    opt.add_argument("--content-weight", type=float)
    opt.add_argument("--style-weight", type=float)
    opt.add_argument("--tv-weight", type=float)
    opt.add_argument(
        "--style-scale",
        type=float,
        help="style image size relative to the result (bigger: bigger strokes)",
    )
    opt.add_argument(
        "--layer-norm",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="divide each layer's loss by its target's magnitude (default); "
        "--no-layer-norm gives the paper's raw weighting",
    )
    opt.add_argument(
        "--preserve-color",
        action="store_true",
        help="transfer luminance only, keep the photo's colours",
    )
    opt.add_argument("--device", choices=DEVICE_CHOICES, default="auto")
    opt.add_argument(
        "--threads",
        type=int,
        help="CPU threads (default: the cores not already busy, by the load average)",
    )
    opt.add_argument("--seed", type=int, default=0)


def resolve_styles(args: argparse.Namespace) -> list[Style]:
    if args.style_image:
        if "," in args.style:
            raise UserError("with --style-image, --style is one name for the result")
        return [get_style(args.style, image=path) for path in args.style_image]
    return [get_style(name.strip()) for name in args.style.split(",")]


def choose_method(method: str, styles: list[Style]) -> str:
    """``auto`` -> Johnson when the (single) style has a trained model, else Gatys."""
    trained = len(styles) == 1 and styles[0].has_model
    if method == "auto":
        return "johnson" if trained else "gatys"
    if method == "johnson" and not trained:
        if len(styles) > 1:
            raise UserError("--method johnson stylises with one trained style, not a blend")
        name = styles[0].name
        raise UserError(
            f"no trained model for style {name!r} ({styles[0].model_path}); "
            f"train one with: make train-style STYLE={name} DATA=dir"
        )
    return method


def make_config(args: argparse.Namespace) -> GatysConfig:
    if args.size is not None and args.scales is not None:
        raise UserError("give --size or --scales, not both (the last scale is the result's size)")
    scales = args.scales or [args.size or DEFAULT_SIZE]
    chosen = {
        "content_layers": args.content_layers,
        "style_layers": args.style_layers,
        "content_weight": args.content_weight,
        "style_weight": args.style_weight,
        "tv_weight": args.tv_weight,
        "style_scale": args.style_scale,
        "lr": args.lr,
    }
    # Flags left unset fall back to GatysConfig's defaults, which stay the single source.
    given = {k: v for k, v in chosen.items() if v is not None}
    try:
        return GatysConfig(
            loss=args.loss,
            normalize=args.layer_norm,
            optimizer=args.optimizer,
            iters=args.iters,
            init=args.init,
            scales=tuple(scales),
            preserve_color=args.preserve_color,
            seed=args.seed,
            **given,
        )
    except ValueError as exc:
        raise UserError(str(exc)) from None


def output_paths(out: Path | None, style_name: str) -> dict[str, Path]:
    """Next to ``--out``, or in a new run folder, made only now that there is a result."""
    if out is not None:
        stem = out.with_suffix("")
        return {
            "image": out,
            "loss": Path(f"{stem}-loss.png"),
            "sheet": Path(f"{stem}-sheet.png"),
            "config": Path(f"{stem}-config.json"),
        }
    run = RunPaths(new_run_dir(APP, style_name))
    return {
        "image": run.root / "stylized.png",
        "loss": run.plot("loss"),
        "sheet": run.plot("sheet"),
        "config": run.config,
    }


def loss_network(
    args: argparse.Namespace, config: GatysConfig, device: torch.device
) -> LossNetwork:
    """The backbone asked for, cut after the deepest content or style layer in use."""
    name = resolve_backbone(args.backbone)
    content, style = config.layers_for(name)
    try:
        return build_loss_network(
            name,
            pretrained=args.pretrained,
            pooling=args.pooling,
            layers=[*dict.fromkeys([*content, *style])],
            device=device,
        )
    except backbones.WeightsUnavailable as exc:
        raise UserError(f"{name}: {exc}") from None
    except ValueError as exc:  # a layer name the backbone does not have
        raise UserError(str(exc)) from None


def run_johnson(args: argparse.Namespace, style: Style) -> int:
    """Hand over to feed-forward inference (``style_transfer.johnson_cli.run_cli``)."""
    from style_transfer.johnson_cli import run_cli  # Gatys runs never load its modules

    return run_cli(args, style)


def save_outputs(
    paths: dict[str, Path],
    result: GatysResult,
    content: torch.Tensor,
    styles: list[torch.Tensor],
    names: list[str],
    config: dict,
) -> None:
    """The image first (the one file users wait for), then the plot, the sheet, the config."""
    save_image(result.image, paths["image"])
    # One panel each: content starts at 0 from the photo, so no shared log axis fits all three.
    panels = {name: {name: values} for name, values in result.history.as_series().items()}
    plot_metric_panels(panels, paths["loss"], xlabel="iteration")
    save_image_grid(
        [content, *styles, result.image],
        paths["sheet"],
        titles=["content", *names, "result"],
        cell_inches=4,
    )
    atomic_write_text(paths["config"], json.dumps(config, indent=2, default=str))


def run(args: argparse.Namespace) -> int:
    styles = resolve_styles(args)
    if choose_method(args.method, styles) == "johnson":
        return run_johnson(args, styles[0])
    config = make_config(args)
    if args.out is not None:
        check_writable(args.out)  # before minutes of work, not after
    content = read_image(args.content)
    style_images = [read_image(s.image_path) for s in styles]
    try:
        blend = normalise_blend(args.style_weights, len(style_images))
    except ValueError as exc:
        raise UserError(f"--style-weights: {exc}") from None
    torch.manual_seed(args.seed)
    torch.set_num_threads(args.threads if args.threads else auto_threads())
    try:
        device = pick_device(args.device)
    except RuntimeError as exc:  # --device cuda on a machine without one
        raise UserError(str(exc)) from None
    net = loss_network(args, config, device)
    print(f"loss network: {net.describe()}; device: {describe(device)}")
    try:
        result = stylize(content, style_images, net, config, blend=blend, progress=None)
    except (NonFiniteLoss, SizeTooSmall) as exc:
        raise UserError(f"{exc}; nothing written") from None
    record = {
        "args": {k: v for k, v in vars(args).items() if not k.startswith("_")},
        "gatys": asdict(config),
        "network": net.describe(),
        "seconds": round(result.seconds, 2),
    }
    shown = resize(content, tuple(result.image.shape[-2:]))
    paths = output_paths(args.out, styles[0].name if len(styles) == 1 else "blend")
    save_outputs(paths, result, shown, style_images, [s.name for s in styles], record)
    n = len(result.history.total)
    print(
        f"{n} iterations in {result.seconds:.0f} s ({result.seconds / n:.3f} s/it), "
        f"loss {result.history.total[0]:.4g} -> {result.history.total[-1]:.4g}"
    )
    print(f"wrote {paths['image']} (sheet {paths['sheet'].name}, loss plot {paths['loss'].name})")
    return 0
