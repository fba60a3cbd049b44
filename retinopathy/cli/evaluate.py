"""Evaluate a trained run on its test split: metrics, plots and report.md.

    python -m retinopathy evaluate --run runs/retinopathy/20250101-120000-resnet50-grade5
    python -m retinopathy evaluate --run RUN --tta        # average over flipped views too

Uses the run's own prepared photos, split and kept checkpoint (best.pt on the selected validation
metric); the original photos are not read again. Where patients have both eyes (EyePACS), also
reports the gain from fusing the two eyes.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from retinopathy.cli.flags import add_tta_argument
from retinopathy.config import EvaluateConfig
from retinopathy.evaluate import evaluate
from shared.cli import add_device_argument, given


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--run", type=Path, required=True, help="a finished run folder")
    add_tta_argument(p, default="as the run was trained")
    add_device_argument(p)


def run(args: argparse.Namespace) -> int:
    evaluate(EvaluateConfig(**given(args, "run", "tta", "device")))
    return 0
