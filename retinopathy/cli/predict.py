"""Grade new fundus photos with a trained run: a CSV of id, grade and class probabilities.

    python -m retinopathy predict --run-dir RUN photo.jpeg
    python -m retinopathy predict --run-dir RUN ~/new_photos --tta --fuse-eyes --out grades.csv
    python -m retinopathy predict --run-dir RUN ~/new_photos --explain   # + explain/<name>.png
    torchrun --nproc_per_node 4 -m retinopathy predict --run-dir RUN ~/new_photos   # sharded

Photos are preprocessed exactly as the run's training photos were (crop or Graham, same size,
same normalisation). A folder's unreadable files are skipped and listed; a single unreadable
file is an error. ``--fuse-eyes`` blends the two eyes of EyePACS-style pairs
(``<patient>_left`` / ``<patient>_right``) with the weight chosen on the run's validation split.
The CSV's last column, ``model``, says what the model was trained on and from which weights; a
model of drawn eyes or random weights also gets a ``warning:`` line on stderr.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from retinopathy.cli.flags import RUN_PRECISION, add_thresholds_argument, add_tta_argument
from retinopathy.config import EXPLAIN_TARGETS, PredictConfig
from retinopathy.predict import predict
from shared.cli import (
    add_device_argument,
    add_precision_argument,
    add_run_dir_argument,
    add_threads_argument,
    default_of,
    given,
)

OPTIONS = ("run", "images", "out", "tta", "fuse_eyes", "batch_size", "device", "threads",
           "thresholds", "explain", "precision")  # fmt: skip


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_run_dir_argument(p, "a trained run folder", required=True)
    p.add_argument("images", type=Path, metavar="IMAGES", help="a photo or a folder of photos")
    p.add_argument("--out", type=Path, help="CSV to write (default: RUN/predictions/<name>.csv)")
    add_tta_argument(p)
    add_thresholds_argument(p, default="the run's own, tuned on validation")
    p.add_argument(
        "--fuse-eyes",
        action="store_true",
        default=None,
        help="blend the two eyes of a patient",
    )
    p.add_argument(
        "--explain",
        nargs="?",
        const="grade",
        choices=EXPLAIN_TARGETS,
        help="also write a Grad-CAM heat map over each photo, OUT's folder/explain/<name>.png, "
        "for the predicted grade (default) or the referable score; needs captum",
    )
    p.add_argument(
        "--batch-size",
        type=int,
        help=f"photos per forward pass (default: {default_of(PredictConfig, 'batch_size')})",
    )
    add_device_argument(p)
    add_threads_argument(p)
    add_precision_argument(p, default=RUN_PRECISION + ", as were its test numbers")


def run(args: argparse.Namespace) -> int:
    predict(PredictConfig(**given(args, *OPTIONS)))
    return 0
