"""Train a grader, then evaluate it on the held-out test set and write the report.

    python -m retinopathy train --arch resnet50                 # the built-in synthetic set
    python -m retinopathy train ~/data/eyepacs --arch inception_v3 --task grade3 --epochs 30
    python -m retinopathy train --arch resnet18 --sampling balanced --class-weights inverse
    python -m retinopathy train --resume runs/retinopathy/20250101-120000-resnet50-grade5

Everything lands in the run folder: config.json, split.csv, metrics.csv, checkpoints/{last,best}.pt,
plots/, report.md. A killed run resumed with --resume ends exactly where an uninterrupted one does.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import numpy as np
import torch

from retinopathy.data.cache import STORAGES, default_cache_dir
from retinopathy.data.preprocess import MODES
from retinopathy.data.samplers import class_weights, sample_weights
from retinopathy.data.sources import FORMATS
from retinopathy.evaluate import evaluate_run
from retinopathy.losses import LOSS_CHOICES, make_criterion
from retinopathy.metrics import compute_metrics, scalar_metrics
from retinopathy.models import build_model
from retinopathy.rundata import SYNTHETIC, RunData
from retinopathy.tasks import TASKS, get_task
from shared import backbones
from shared.device import DEVICE_CHOICES, describe, pick_device
from shared.engine import TrainConfig, Trainer, classification_step
from shared.errors import UserError
from shared.rng import seed_everything
from shared.runs import new_run_dir, read_config, require_run_dir, write_config

DEFAULT_ARCH = "resnet18"
SELECT = {"val_loss": "min", "val_qwk": "max", "val_f1": "max", "val_acc": "max"}
# Sizes that keep the built-in sample set quick on a laptop CPU; real data gets real sizes.
SYNTHETIC_DEFAULTS = {"image_size": 96, "epochs": 5}
REAL_DEFAULTS = {"image_size": 512, "epochs": 30}


def add_arguments(p: argparse.ArgumentParser) -> None:
    data = p.add_argument_group("data")
    data.add_argument(
        "data",
        nargs="?",
        default=SYNTHETIC,
        metavar="DATA",
        help="dataset folder or CSV (default: the built-in synthetic sample set)",
    )
    data.add_argument("--format", choices=FORMATS, help="dataset format (default: detected)")
    data.add_argument("--image-size", type=int, help="input side in px (512; 96 on the sample set)")
    data.add_argument("--mode", choices=MODES, default="crop", help="preprocessing (crop)")
    data.add_argument("--cache", type=Path, help=f"cache folder (default {default_cache_dir()})")
    data.add_argument("--storage", choices=STORAGES, default="npy", help=argparse.SUPPRESS)
    data.add_argument("--workers", type=int, help="preprocessing processes (default: all cores)")
    data.add_argument("--loader-workers", type=int, default=0, help="DataLoader workers (0)")
    data.add_argument("--synthetic-images", type=int, default=2000, help="size of the sample set")
    data.add_argument("--synthetic-size", type=int, default=512, help=argparse.SUPPRESS)
    data.add_argument("--split-seed", type=int, default=0)
    data.add_argument("--test-size", type=float, default=0.25)
    data.add_argument("--val-size", type=float, default=0.25, help="share of the non-test photos")
    model = p.add_argument_group("model")
    model.add_argument("--arch", default=DEFAULT_ARCH, help=", ".join(backbones.list_backbones()))
    model.add_argument("--task", choices=list(TASKS), default="grade5")
    model.add_argument("--pretrained", choices=backbones.PRETRAINED_CHOICES, default="auto")
    model.add_argument("--finetune", choices=backbones.FINETUNE_CHOICES, default="all")
    fit = p.add_argument_group("training")
    fit.add_argument("--epochs", type=int)
    fit.add_argument("--batch-size", type=int, default=32)
    fit.add_argument("--optimizer", choices=("adam", "sgd", "adamw"), default="adam")
    fit.add_argument("--lr", type=float, help="learning rate (1e-3)")
    fit.add_argument("--momentum", type=float, default=0.9)
    fit.add_argument("--weight-decay", type=float, help="(0 for Adam, 5e-4 for SGD)")
    fit.add_argument(
        "--scheduler", choices=("plateau", "cosine", "step", "none"), default="plateau"
    )
    fit.add_argument("--plateau-patience", type=int, default=5)
    fit.add_argument(
        "--select",
        choices=list(SELECT),
        default="val_qwk",
        help="validation metric that picks the kept model (val_qwk)",
    )
    fit.add_argument("--early-stopping", type=int, metavar="EPOCHS", help="patience (off)")
    fit.add_argument("--amp", action="store_true", help="mixed precision (bf16 CPU, fp16 CUDA)")
    fit.add_argument("--accum-steps", type=int, default=1)
    fit.add_argument("--clip-grad-norm", type=float)
    fit.add_argument("--seed", type=int, default=0)
    fit.add_argument("--device", choices=DEVICE_CHOICES, default="auto")
    imb = p.add_argument_group("class imbalance")
    imb.add_argument(
        "--sampling",
        default="none",
        help="class-weighted sampling: none, balanced, or an exponent in [0, 1] "
        "(0 natural shares, 1 balanced)",
    )
    imb.add_argument(
        "--class-weights",
        default="none",
        help="loss weights: none, inverse (inverse class frequency) or w0,w1,...",
    )
    imb.add_argument("--loss", choices=LOSS_CHOICES, default="ce")
    imb.add_argument(
        "--no-augment",
        dest="augment",
        action="store_false",
        help="no flips/rotation/crop/colour jitter",
    )
    out = p.add_argument_group("output")
    out.add_argument(
        "--run", type=Path, help="run folder (default runs/retinopathy/<time>-<arch>-<task>)"
    )
    out.add_argument("--resume", type=Path, metavar="RUN", help="continue a killed run")
    out.add_argument("--tta", action="store_true", help="test-time flips when evaluating")


def _sampling_exponent(text: str) -> float:
    named = {"none": 0.0, "natural": 0.0, "balanced": 1.0}
    try:
        value = named[text] if text in named else float(text)
    except ValueError:
        raise UserError(
            f"--sampling must be none, balanced or a number in [0, 1], not {text!r}"
        ) from None
    if not 0 <= value <= 1:
        raise UserError(f"--sampling exponent must lie in [0, 1], not {value}")
    return value


def _weights_option(text: str, num_classes: int) -> str | list[float]:
    if text in ("none", "inverse"):
        return text
    try:
        values = [float(v) for v in text.split(",")]
    except ValueError:
        raise UserError(f"--class-weights must be none, inverse or numbers, not {text!r}") from None
    if len(values) != num_classes or min(values) <= 0:
        raise UserError(f"--class-weights needs {num_classes} positive numbers, got {text!r}")
    return values


def config_from_args(args: argparse.Namespace) -> dict[str, Any]:
    """Everything needed to reproduce the run, as plain data (config.json)."""
    task = get_task(args.task)
    build_model(args.arch, task.num_classes, "no")  # an unknown arch fails here, before any work
    defaults = SYNTHETIC_DEFAULTS if args.data == SYNTHETIC else REAL_DEFAULTS
    image_size = args.image_size or defaults["image_size"]
    smallest = backbones.get_spec(args.arch).min_input_size
    if image_size < smallest:
        raise UserError(
            f"{args.arch} needs --image-size of at least {smallest} px, not {image_size}"
        )
    sgd = args.optimizer == "sgd"
    select = args.select
    train = TrainConfig(
        epochs=args.epochs or defaults["epochs"],
        batch_size=args.batch_size,
        num_workers=args.loader_workers,
        optimizer=args.optimizer,
        lr=args.lr or 1e-3,
        momentum=args.momentum,
        weight_decay=args.weight_decay if args.weight_decay is not None else (5e-4 if sgd else 0.0),
        scheduler=args.scheduler,
        plateau_factor=0.1,
        plateau_patience=args.plateau_patience,
        accum_steps=args.accum_steps,
        clip_grad_norm=args.clip_grad_norm,
        amp=args.amp,
        monitor=select,
        mode=SELECT[select],
        early_stopping_patience=args.early_stopping,
        seed=args.seed,
    )
    return {
        "app": "retinopathy",
        "arch": args.arch,
        "task": task.name,
        "num_classes": task.num_classes,
        "pretrained": args.pretrained,
        "finetune": args.finetune,
        "data": str(args.data) if args.data == SYNTHETIC else str(Path(args.data).resolve()),
        "format": args.format,
        "image_size": image_size,
        "mode": args.mode,
        "storage": args.storage,
        "cache": str(args.cache) if args.cache else None,
        "workers": args.workers,
        "synthetic_images": args.synthetic_images,
        "synthetic_size": args.synthetic_size,
        "split_seed": args.split_seed,
        "test_size": args.test_size,
        "val_size": args.val_size,
        "sampling": _sampling_exponent(args.sampling),
        "class_weights": _weights_option(args.class_weights, task.num_classes),
        "loss": args.loss,
        "augment": args.augment,
        "select": select,
        "tta": args.tta,
        "device": args.device,
        "train": train.to_dict(),
    }


def loss_weights(config: dict[str, Any], labels: list[int]) -> list[float] | None:
    """Per-class loss weights: inverse frequency scaled to average 1 over the training photos."""
    option = config["class_weights"]
    if option == "none":
        return None
    if option == "inverse":
        w = class_weights(labels, 1.0)
        w = w * len(labels) / (w[np.asarray(labels)].sum())
        return w.round(6).tolist()
    return list(option)


def validation_metrics(task):
    def metrics_fn(logits: torch.Tensor, targets: torch.Tensor) -> dict[str, float]:
        m = compute_metrics(targets.numpy(), logits.float().softmax(1).numpy(), task)
        out = scalar_metrics(m)
        out["f1"] = out.pop("macro_f1")
        out["acc"] = out.pop("accuracy")  # pairs with the engine's train_acc in curves
        return out

    return metrics_fn


def new_run(config: dict[str, Any], run: Path | None) -> tuple[Path, RunData, torch.nn.Module]:
    """Data and model first, the run folder last: bad input leaves nothing behind."""
    task = get_task(config["task"])
    data = RunData.build(config)
    config["mean"], config["std"] = data.mean, data.std
    seed_everything(config["train"]["seed"])  # the initial weights are part of the recipe
    model = build_model(config["arch"], task.num_classes, config["pretrained"], config["finetune"])
    config["pretrained_loaded"] = bool(getattr(model, "pretrained", False))
    run_dir = new_run_dir("retinopathy", f"{config['arch']}-{config['task']}", run=run)
    data.save_split(run_dir)
    write_config(run_dir, config)
    return run_dir, data, model


def train_run(
    run_dir: Path, config: dict[str, Any], data: RunData, model: torch.nn.Module, resume: bool
) -> Path:
    """Train (or continue) the run in ``run_dir``, then evaluate it. Returns the report path."""
    task = data.task
    device = pick_device(config["device"])
    weights = loss_weights(config, data.train.labels)
    sampler = (
        sample_weights(data.train.labels, config["sampling"]).tolist()
        if config["sampling"] > 0
        else None
    )
    init = "ImageNet weights" if config.get("pretrained_loaded") else "random init"
    print(
        f"{config['arch']} ({init})"
        f", {task.name}, {config['image_size']} px, on {describe(device)}; "
        f"train/val/test {len(data.train)}/{len(data.val)}/{len(data.test)} photos; run {run_dir}",
        flush=True,
    )
    trainer = Trainer(
        model,
        data.train,
        data.val,
        config=TrainConfig.from_dict(config["train"]),
        run_dir=run_dir,
        device=device,
        step_fn=classification_step(make_criterion(config["loss"], weights)),
        metrics_fn=validation_metrics(task),
        sampler_weights=sampler,
    )
    trainer.fit(resume=resume)
    return evaluate_run(run_dir, data=data, device=device)


def run(args: argparse.Namespace) -> int:
    if args.resume:
        paths = require_run_dir(args.resume)
        config = read_config(paths.root)
        if config.get("app") != "retinopathy":
            raise UserError(f"{paths.root} is not a retinopathy run")
        data = RunData.build(config, paths.root)
        model = build_model(config["arch"], data.task.num_classes, "no", config["finetune"])
        train_run(paths.root, config, data, model, resume=True)
        return 0
    config = config_from_args(args)
    run_dir, data, model = new_run(config, args.run)
    train_run(run_dir, config, data, model, resume=False)
    return 0
