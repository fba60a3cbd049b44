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
unless --out names the model file.
"""

from __future__ import annotations

import argparse
import shlex
from pathlib import Path

import torch

from shared.device import DEVICE_CHOICES
from shared.engine import TrainConfig
from shared.errors import UserError
from shared.threads import auto_threads
from style_transfer.features import POOLING_CHOICES
from style_transfer.perceptual import LOSS_BACKBONES, resolve_loss_backbone
from style_transfer.train import (
    JohnsonSettings,
    finish,
    fit,
    new_training,
    resume_training,
)

DEFAULTS = JohnsonSettings(style="")
# The paper: two epochs of COCO's 83k photos at batch 4. The demo set is a few thousand crops
# of a dozen photos: one pass over it is about as much as it can teach.
EPOCHS = {"data": 2, "demo": 1}


def _widths(text: str) -> tuple[int, int, int]:
    try:
        values = tuple(int(v) for v in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected three channel counts, got {text!r}") from None
    if len(values) != 3 or min(values) < 1:
        raise argparse.ArgumentTypeError(f"expected three positive channel counts, got {text!r}")
    return values  # type: ignore[return-value]


def add_arguments(p: argparse.ArgumentParser) -> None:
    what = p.add_argument_group("style and photos")
    what.add_argument("--style", default="starry", help="name the model is registered under")
    what.add_argument("--style-image", type=Path, metavar="PATH", help="the style's image")
    what.add_argument("--data", type=Path, help="folder of training photos (default: demo set)")
    what.add_argument(
        "--image-size", type=int, default=DEFAULTS.image_size, help="training crop side (256)"
    )
    what.add_argument(
        "--style-size",
        type=int,
        default=DEFAULTS.style_size,
        help=f"style image's longer side ({DEFAULTS.style_size}); bigger: bigger strokes",
    )
    what.add_argument(
        "--demo-images", type=int, default=DEFAULTS.demo_images, help=argparse.SUPPRESS
    )
    loss = p.add_argument_group("loss")
    loss.add_argument(
        "--backbone",
        choices=LOSS_BACKBONES,
        default="auto",
        help="loss network; auto: vgg16 with ImageNet weights if available offline, "
        "else efficientnet_lite0",
    )
    loss.add_argument("--pooling", choices=POOLING_CHOICES, default="auto")
    loss.add_argument("--content-weight", type=float, default=DEFAULTS.content_weight)
    loss.add_argument("--style-weight", type=float, default=DEFAULTS.style_weight)
    loss.add_argument("--tv-weight", type=float, default=DEFAULTS.tv_weight)
    net = p.add_argument_group("network")
    net.add_argument(
        "--widths",
        type=_widths,
        default=DEFAULTS.widths,
        metavar="C1,C2,C3",
        help="channels (32,64,128 as in the paper)",
    )
    net.add_argument("--residual-blocks", type=int, default=DEFAULTS.residual_blocks)
    fit_ = p.add_argument_group("training")
    fit_.add_argument("--epochs", type=int, help="passes over the photos (2; 1 on the demo set)")
    fit_.add_argument("--batch-size", type=int, default=4)
    fit_.add_argument("--lr", type=float, default=1e-3)
    fit_.add_argument(
        "--amp",
        action=argparse.BooleanOptionalAction,
        help="mixed precision (default: on with CUDA, off on the CPU)",
    )
    fit_.add_argument("--checkpoint-every", type=int, default=500, metavar="BATCHES")
    fit_.add_argument(
        "--preview-every", type=int, default=DEFAULTS.preview_every, metavar="BATCHES"
    )
    fit_.add_argument("--workers", type=int, default=0, help="DataLoader processes (0)")
    fit_.add_argument("--device", choices=DEVICE_CHOICES, default="auto")
    fit_.add_argument("--threads", type=int, help="CPU threads (default: the idle cores)")
    fit_.add_argument("--seed", type=int, default=0)
    out = p.add_argument_group("output")
    out.add_argument("--run", type=Path, help="run folder (default runs/style_transfer/...)")
    out.add_argument("--resume", type=Path, metavar="RUN", help="continue a killed run exactly")
    out.add_argument(
        "--out", type=Path, help="model file (default: registered in the user's styles)"
    )
    out.add_argument("--export", choices=("onnx",), help="also write the model as ONNX")


def settings_from_args(args: argparse.Namespace) -> tuple[JohnsonSettings, TrainConfig]:
    for name in ("image_size", "style_size", "batch_size", "residual_blocks", "demo_images"):
        if getattr(args, name) < 1:
            raise UserError(f"--{name.replace('_', '-')} must be at least 1")
    if args.image_size < 32:
        raise UserError("--image-size must be at least 32 px")
    for name in ("content_weight", "style_weight", "tv_weight"):
        if not getattr(args, name) >= 0:
            raise UserError(f"--{name.replace('_', '-')} must be a number >= 0")
    if args.out is not None and args.out.suffix != ".safetensors":
        raise UserError(f"--out must name a .safetensors file, not {args.out}")
    try:
        backbone = resolve_loss_backbone(args.backbone)
    except ValueError as exc:
        raise UserError(str(exc)) from None
    settings = JohnsonSettings(
        style=args.style,
        data=str(args.data.expanduser().resolve()) if args.data else None,
        image_size=args.image_size,
        style_size=args.style_size,
        backbone=backbone,
        pooling=args.pooling,
        content_weight=args.content_weight,
        style_weight=args.style_weight,
        tv_weight=args.tv_weight,
        widths=args.widths,
        residual_blocks=args.residual_blocks,
        demo_images=args.demo_images,
        preview_every=args.preview_every,
        out=str(args.out.resolve()) if args.out else None,
    )
    cuda = args.device == "cuda" or (args.device == "auto" and torch.cuda.is_available())
    train = TrainConfig(
        epochs=args.epochs or EPOCHS["data" if args.data else "demo"],
        batch_size=args.batch_size,
        num_workers=args.workers,
        optimizer="adam",
        lr=args.lr,
        amp=cuda if args.amp is None else args.amp,
        checkpoint_every=args.checkpoint_every,
        monitor="train_loss",
        seed=args.seed,
    )
    return settings, train


def recipe_command(args: argparse.Namespace, settings: JohnsonSettings, train: TrainConfig) -> str:
    """The command that trains this model again, every setting spelled out."""
    opts = {
        "--style": settings.style,
        "--style-image": args.style_image,
        "--data": settings.data,
        "--image-size": settings.image_size,
        "--style-size": settings.style_size,
        "--backbone": settings.backbone,
        "--pooling": settings.pooling,
        "--content-weight": settings.content_weight,
        "--style-weight": settings.style_weight,
        "--tv-weight": settings.tv_weight,
        "--widths": ",".join(map(str, settings.widths)),
        "--residual-blocks": settings.residual_blocks,
        "--demo-images": None if settings.data else settings.demo_images,
        "--epochs": train.epochs,
        "--batch-size": train.batch_size,
        "--lr": train.lr,
        "--seed": train.seed,
    }
    words = [w for k, v in opts.items() if v is not None for w in (k, str(v))]
    return shlex.join(["python", "-m", "style_transfer", "train", *words])


def run(args: argparse.Namespace) -> int:
    torch.set_num_threads(args.threads or auto_threads())
    if args.resume is not None:
        print(f"resuming {args.resume} with its own settings (config.json)", flush=True)
        job = resume_training(args.resume, device=None if args.device == "auto" else args.device)
        speed = fit(job, resume=True)
    else:
        settings, train = settings_from_args(args)
        job = new_training(
            settings,
            train,
            style_image=args.style_image,
            run=args.run,
            device=args.device,
            recipe=recipe_command(args, settings, train),
        )
        speed = fit(job)
    in_run, registered = finish(job, recipe=job.trainer.run_config.get("recipe", ""))
    row = job.trainer.history[-1] if job.trainer.history else {}
    losses = ", ".join(f"{k[6:]} {row[k]:.4g}" for k in row if k.startswith("train_"))
    print(
        f"{speed.steps} steps in {speed.seconds / 60:.1f} min ({speed.steps_per_second:.2f} it/s, "
        f"batch {job.trainer.config.batch_size}); last epoch: {losses}"
    )
    print(f"model: {in_run} ({in_run.stat().st_size / 2**20:.1f} MB, fp16)")
    if args.export == "onnx":
        from style_transfer.export import export_onnx  # onnx only when asked

        print(f"onnx: {export_onnx(job.trainer.model, in_run.with_suffix('.onnx'))}")
    print(f"registered: {registered}; use it with: make stylize STYLE={job.settings.style}")
    return 0
