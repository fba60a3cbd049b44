"""Evaluate a trained run on its test split: metrics, plots and report.md.

    python -m retinopathy evaluate --run-dir runs/retinopathy/20250101-120000-resnet50-grade5
    python -m retinopathy evaluate --run-dir RUN --tta    # average over flipped views too
    torchrun --nproc_per_node 2 -m retinopathy evaluate --run-dir RUN   # the ranks share the photos

Uses the run's own prepared photos, split and kept checkpoint (best.pt on the selected validation
metric); the original photos are not read again. Photos are graded with the run's stored cut
points and operating points (thresholds.json); --thresholds, --spec-target and --sens-target
choose others for this evaluation only. Where patients have both eyes (EyePACS), also reports
the gain from fusing the two eyes.

    python -m retinopathy evaluate --run-dir RUN --thresholds 0.6,1.4,2.5,3.2 --bootstrap 200

--data grades a whole other labelled dataset with the run's preprocessing, normalisation,
checkpoint, precision and thresholds, into RUN/external/<dataset folder name>/ (report.md,
metrics.json, predictions.csv, plots/): the gap between the run's own test split and data it
never saw.

    python -m retinopathy evaluate --run-dir RUN --data ~/data/aptos --format aptos
"""

from __future__ import annotations

import argparse

from retinopathy.cli.flags import (
    RUN_PRECISION,
    add_screening_arguments,
    add_thresholds_argument,
    add_tta_argument,
)
from retinopathy.config import EvaluateConfig
from retinopathy.data.sources import FORMATS
from retinopathy.evaluate import evaluate
from shared.cli import (
    add_device_argument,
    add_precision_argument,
    add_run_dir_argument,
    add_threads_argument,
    given,
)


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_run_dir_argument(p, "a finished run folder", required=True)
    add_tta_argument(p, default="as the run was trained")
    add_thresholds_argument(p, default="the run's own, tuned on validation")
    add_screening_arguments(p, default="the run's own")
    add_device_argument(p)
    add_threads_argument(p)
    add_precision_argument(p, default=RUN_PRECISION + ", which reproduces its test numbers")
    other = p.add_argument_group("another dataset")
    other.add_argument(
        "--data",
        metavar="DATA",
        help="grade this whole labelled dataset (folder or path,label CSV) instead of the run's "
        "test split; report in RUN/external/<name>/ (default: the run's test split)",
    )
    other.add_argument("--format", choices=FORMATS, help="the dataset's format (default: detected)")
    other.add_argument(
        "--name",
        help="the report folder's name under RUN/external/ (default: the dataset folder's)",
    )


def run(args: argparse.Namespace) -> int:
    options = ("run", "tta", "device", "threads", "precision", "thresholds", "spec_target",
               "sens_target", "bootstrap", "data", "format", "name")  # fmt: skip
    evaluate(EvaluateConfig(**given(args, *options)))
    return 0
