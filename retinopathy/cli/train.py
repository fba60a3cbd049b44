"""Train a grader, then evaluate it on the held-out test set and write the report.

    python -m retinopathy train --arch resnet50                 # the built-in synthetic set
    python -m retinopathy train ~/data/eyepacs --arch inception_v3 --task grade3 --epochs 30
    python -m retinopathy train --arch resnet18 --sampling balanced --class-weights inverse
    python -m retinopathy train --head regress --loss smooth_l1    # cut points tuned for QWK
    python -m retinopathy train --arch timm:efficientnet_b0 --pretrained ~/weights/mine.pth
    python -m retinopathy train --list-archs                    # the backbones, and timm's names
    python -m retinopathy train --arch resnet50 --fast-dev-run  # the whole pipeline in seconds
    python -m retinopathy train --resume runs/retinopathy/20250101-120000-resnet50-grade5
    python -m retinopathy train --config runs/retinopathy/20250101-120000-resnet50-grade5 --lr 3e-4
    python -m retinopathy train ~/data/eyepacs,~/data/aptos     # one model on both datasets

Everything lands in the run folder: config.json, split.csv, metrics.csv, checkpoints/{last,best}.pt,
plots/, report.md. A killed run resumed with --resume ends exactly where an uninterrupted one does:
it computes with the run's recorded thread count (--threads, or the idle cores when the run
started; printed with the device) and warns when the library versions differ from the run's.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from retinopathy.cli.flags import (
    DATA_OPTIONS,
    add_data_arguments,
    add_screening_arguments,
    add_thresholds_argument,
    add_tta_argument,
)
from retinopathy.config import (
    DEFAULT_ARCH,
    REAL_DATA,
    SAMPLE_SET,
    SCHEDULER,
    SELECT,
    SGD_WEIGHT_DECAY,
    RunConfig,
)
from retinopathy.config_file import rerun_options
from retinopathy.data.pooled import SOURCE_SEPARATOR
from retinopathy.fast_dev_run import fast_dev_options, fast_dev_run
from retinopathy.heads import HEAD_CHOICES, HEAD_LOSSES
from retinopathy.tasks import TASKS
from retinopathy.train import resume, train
from shared import backbones
from shared.cli import (
    add_device_argument,
    add_precision_argument,
    add_run_dir_argument,
    add_threads_argument,
    default_of,
    given,
)
from shared.engine import OPTIMIZERS, SCHEDULERS, TrainConfig
from shared.errors import UserError

# The flags below, by the config field each sets (RunConfig's, then TrainConfig's).
RUN_OPTIONS = ("split_seed", "test_size", "val_size", "arch", "task", "pretrained",
               "finetune", "select", "device", "sampling", "class_weights", "head", "loss",
               "label_smoothing", "augment", "normalize", "tta", "tensorboard", "thresholds",
               "spec_target", "sens_target", "bootstrap", "keep_last")  # fmt: skip
ENGINE_OPTIONS = ("num_workers", "epochs", "batch_size", "optimizer", "lr", "momentum",
                  "weight_decay", "scheduler", "plateau_patience", "early_stopping_patience",
                  "precision", "accum_steps", "clip_grad_norm", "seed", "threads",
                  "warmup_epochs", "ema")  # fmt: skip


def _run(name: str) -> str:
    return f"default: {default_of(RunConfig, name)}"


def _engine(name: str) -> str:
    return f"default: {default_of(TrainConfig, name)}"


class ListArchs(argparse.Action):
    """``--list-archs``: print the backbones, one a line, then exit (as ``--help`` does)."""

    def __init__(self, option_strings: list[str], dest: str, **kwargs) -> None:
        super().__init__(option_strings, dest, nargs=0, default=argparse.SUPPRESS, **kwargs)

    def __call__(self, parser: argparse.ArgumentParser, *_) -> None:
        print("\n".join(backbones.catalog_lines()))
        parser.exit()


def add_arguments(p: argparse.ArgumentParser) -> None:
    data = p.add_argument_group("data")
    add_data_arguments(data)
    data.add_argument(
        "--loader-workers",
        dest="num_workers",
        type=int,
        metavar="N",
        help=f"DataLoader workers ({_engine('num_workers')})",
    )
    data.add_argument(
        "--data",
        dest="more_data",
        action="append",
        metavar="DATA",
        help="another dataset to train on with DATA (repeatable; or DATA=a,b): one model on the "
        "union, each dataset split by patient on its own, test metrics also per dataset",
    )
    data.add_argument("--split-seed", type=int, help=f"seed of the split ({_run('split_seed')})")
    data.add_argument(
        "--test-size", type=float, help=f"share of photos held out ({_run('test_size')})"
    )
    data.add_argument(
        "--val-size", type=float, help=f"share of the non-test photos ({_run('val_size')})"
    )
    model = p.add_argument_group("model")
    model.add_argument(
        "--arch",
        help=f"{', '.join(backbones.list_backbones())}, or {backbones.TIMM_PREFIX}<name> for any "
        f"timm model, e.g. {backbones.TIMM_PREFIX}efficientnet_b0 (see --list-archs; default: "
        f"{DEFAULT_ARCH})",
    )
    model.add_argument(
        "--list-archs",
        action=ListArchs,
        help="list the backbones (smallest input, what each is) and how to name timm's, then exit",
    )
    model.add_argument("--task", choices=list(TASKS), help=f"grading task ({_run('task')})")
    model.add_argument(
        "--pretrained",
        metavar="{no,yes,auto,FILE}",
        help="ImageNet weights (yes, or auto: when they can be had), or a weights file of yours "
        "(a state dict or checkpoint, .pth/.pt/.bin/.safetensors; keys matched by name after "
        f"stripping {', '.join(backbones.KEY_PREFIXES)}; a head of another class count is "
        f"replaced) ({_run('pretrained')})",
    )
    model.add_argument(
        "--finetune",
        choices=backbones.FINETUNE_CHOICES,
        help=f"layers that learn ({_run('finetune')})",
    )
    model.add_argument(
        "--head",
        choices=HEAD_CHOICES,
        help="classify: softmax over the classes; regress: the grade as one number; ordinal: "
        f"K-1 cumulative 'grade > k' logits (CORAL) ({_run('head')})",
    )
    fit = p.add_argument_group("training")
    fit.add_argument(
        "--epochs",
        type=int,
        help=f"(default: {SAMPLE_SET['epochs']} on the sample set, {REAL_DATA['epochs']} on "
        "real data)",
    )
    fit.add_argument("--batch-size", type=int, help=f"({_engine('batch_size')})")
    fit.add_argument("--optimizer", choices=OPTIMIZERS, help=f"({_engine('optimizer')})")
    fit.add_argument("--lr", type=float, help=f"learning rate ({_engine('lr')})")
    fit.add_argument("--momentum", type=float, help=f"SGD momentum ({_engine('momentum')})")
    fit.add_argument(
        "--weight-decay",
        type=float,
        help=f"(default: {default_of(TrainConfig, 'weight_decay')}, {SGD_WEIGHT_DECAY} with SGD)",
    )
    fit.add_argument("--scheduler", choices=SCHEDULERS, help=f"(default: {SCHEDULER})")
    fit.add_argument(
        "--plateau-patience",
        type=int,
        help=f"epochs without improvement before the lr drops ({_engine('plateau_patience')})",
    )
    fit.add_argument(
        "--warmup-epochs",
        type=float,
        metavar="EPOCHS",
        help="raise the learning rate linearly from 0 over this many epochs, step by step "
        f"(fractions too; {_engine('warmup_epochs')}: off)",
    )
    fit.add_argument(
        "--ema",
        type=float,
        metavar="DECAY",
        help="keep a moving average of the weights with this decay (e.g. 0.999): the average is "
        "validated, kept and graded with (default: off)",
    )
    fit.add_argument(
        "--label-smoothing",
        type=float,
        metavar="EPS",
        help=f"mix this share of a uniform target over every grade into each target, with "
        f"--loss ce ({_run('label_smoothing')})",
    )
    fit.add_argument(
        "--select",
        choices=list(SELECT),
        help=f"validation metric that picks the kept model ({_run('select')})",
    )
    fit.add_argument(
        "--early-stopping",
        dest="early_stopping_patience",
        type=int,
        metavar="EPOCHS",
        help="stop after this many epochs without improvement (default: off)",
    )
    add_precision_argument(fit)
    fit.add_argument(
        "--accum-steps",
        type=int,
        help=f"batches per optimiser step ({_engine('accum_steps')})",
    )
    fit.add_argument("--clip-grad-norm", type=float, help="gradient norm clip (default: off)")
    fit.add_argument(
        "--seed", type=int, help=f"seed of the weights and batches ({_engine('seed')})"
    )
    add_device_argument(fit)
    add_threads_argument(fit)
    imb = p.add_argument_group("class imbalance")
    imb.add_argument(
        "--sampling",
        help="class-weighted sampling: none, balanced, or an exponent in [0, 1] "
        f"(0 natural shares, 1 balanced; {_run('sampling')})",
    )
    imb.add_argument(
        "--class-weights",
        help="loss weights: none, inverse (inverse class frequency) or w0,w1,... "
        f"({_run('class_weights')})",
    )
    losses = sorted({loss for choices in HEAD_LOSSES.values() for loss in choices})
    per_head = "; ".join(f"{h}: {' or '.join(c)}" for h, c in HEAD_LOSSES.items())
    imb.add_argument("--loss", choices=losses, help=f"{per_head} (default: the head's first)")
    imb.add_argument(
        "--no-augment",
        dest="augment",
        action="store_false",
        default=None,
        help="no flips/rotation/crop/colour jitter",
    )
    imb.add_argument(
        "--no-normalize",
        dest="normalize",
        action="store_false",
        default=None,
        help="inputs only scaled to 0..1, not standardised by the training photos' channel "
        "mean and std",
    )
    out = p.add_argument_group("output")
    add_run_dir_argument(out, "run folder (default: runs/retinopathy/<time>-<arch>-<task>)")
    out.add_argument(
        "--tensorboard",
        action="store_true",
        default=None,
        help="also write TensorBoard event files in RUN/tensorboard/: the scalars, the "
        "validation confusion matrix and graded photos per epoch (pip install "
        "'visionlab[tensorboard]'; default: off, metrics.csv always)",
    )
    out.add_argument(
        "--keep-last",
        action="store_true",
        default=None,
        help="keep checkpoints/last.pt (the optimiser's state too) once the run ends, so that "
        "--resume RUN --epochs N can continue it later (default: removed; best.pt, the kept "
        "model, always stays)",
    )
    out.add_argument(
        "--fast-dev-run",
        action="store_true",
        help="one batch each through training, validation, test, the report and predict, one "
        "epoch, to check a setting in seconds (on the sample set: a small one); nothing kept "
        "unless --run-dir is given (default: off)",
    )
    out.add_argument(
        "--config",
        type=Path,
        metavar="FILE",
        help="the settings of a run (its folder or config.json) or of a TOML file of the same "
        "keys ([train] for the engine's); flags given beside it override them, and config.json "
        "records both (default: none)",
    )
    out.add_argument(
        "--resume",
        type=Path,
        metavar="RUN",
        help="continue a killed run with its own settings; with a larger --epochs, continue a "
        "run (finished or not) to that many epochs; any other changed option is refused",
    )
    add_tta_argument(out)
    grading = p.add_argument_group("grading (chosen on validation after training)")
    add_thresholds_argument(grading, default="tuned for QWK, for the regress and ordinal heads")
    add_screening_arguments(grading)


def run(args: argparse.Namespace) -> int:
    options = given(args, *DATA_OPTIONS, *RUN_OPTIONS, *ENGINE_OPTIONS)
    if args.more_data:  # --data a --data b: as DATA=a,b
        options["data"] = SOURCE_SEPARATOR.join([*filter(None, [args.data]), *args.more_data])
    if args.resume:
        if args.config:
            raise UserError("--resume continues a run with its own settings: drop --config")
        epochs = options.pop("epochs", None)
        resume(args.resume, threads=options.pop("threads", None), epochs=epochs, options=options)
        return 0
    overrides = None
    if args.config:
        path, options, overrides = rerun_options(args.config, options)
    if args.fast_dev_run:
        options = fast_dev_options(options)
    config = RunConfig.from_options(**options)
    if overrides is not None:
        config.config_file, config.overrides = str(path), overrides
    if args.fast_dev_run:
        fast_dev_run(config, args.run)
    else:
        train(config, args.run)
    return 0
