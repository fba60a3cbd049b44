"""Evaluate a trained run on its test split: metrics, plots and report.md.

    python -m retinopathy evaluate --run runs/retinopathy/20250101-120000-resnet50-grade5
    python -m retinopathy evaluate --run RUN --tta        # average over flipped views too

Uses the run's own split, preprocessing and kept checkpoint (best.pt on the selected validation
metric). Where patients have both eyes (EyePACS), also reports the gain from fusing the two eyes.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader

from retinopathy import fusion, report
from retinopathy.metrics import compute_metrics, scalar_metrics
from retinopathy.models import load_run_model, predict_probs
from retinopathy.rundata import RunData
from retinopathy.tasks import Task
from shared.atomic import atomic_write_text
from shared.device import DEVICE_CHOICES, pick_device
from shared.runs import MetricsLog, RunPaths, progress, read_config, require_run_dir

PREDICTIONS = "test_predictions.csv"
METRICS_JSON = "test_metrics.json"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--run", type=Path, required=True, help="a finished run folder")
    p.add_argument("--tta", action="store_true", help="average over horizontal/vertical flips")
    p.add_argument("--device", choices=DEVICE_CHOICES, default="auto")


def _probs(model, dataset, device, tta: bool, name: str) -> tuple[np.ndarray, np.ndarray]:
    loader = DataLoader(dataset, batch_size=64, shuffle=False)
    bar = lambda it: progress(it, desc=f"evaluate {name}", unit="batch", leave=False)  # noqa: E731
    probs, labels = predict_probs(model, loader, device, tta=tta, progress=bar)
    return probs.numpy(), labels.numpy()


def _fusion_section(
    task: Task,
    data: RunData,
    val: tuple[np.ndarray, np.ndarray],
    test: tuple[np.ndarray, np.ndarray],
    test_metrics: dict[str, Any],
) -> tuple[str, dict[str, float]] | None:
    val_patients, test_patients = data.patients("val"), data.patients("test")
    if not fusion.pairs(test_patients):
        return None
    alpha = fusion.choose_alpha(val[0], val[1], val_patients, task)
    fused = compute_metrics(test[1], fusion.fuse(test[0], test_patients, alpha), task)
    gain = fused["qwk"] - test_metrics["qwk"]
    text = (
        "## Per-patient fusion of both eyes\n\n"
        f"Each eye's probabilities blended with the other eye's (weight {alpha}, chosen on "
        f"validation), over {len(fusion.pairs(test_patients))} test patients with both eyes.\n\n"
        "| | QWK | accuracy | macro F1 |\n|---|---|---|---|\n"
        f"| single eye | {test_metrics['qwk']:.3f} | {test_metrics['accuracy']:.3f} "
        f"| {test_metrics['macro_f1']:.3f} |\n"
        f"| fused | {fused['qwk']:.3f} | {fused['accuracy']:.3f} | {fused['macro_f1']:.3f} |\n\n"
        f"QWK gain from fusion: {gain:+.3f}.\n"
    )
    return text, {"fusion_alpha": alpha, "fused_qwk": fused["qwk"], "fusion_qwk_gain": gain}


def _predictions_csv(task: Task, ids: list[str], labels: np.ndarray, probs: np.ndarray) -> str:
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(["id", "true", "predicted", *[f"p_{k}" for k in range(task.num_classes)]])
    pred = probs.argmax(1)
    for i, image_id in enumerate(ids):
        w.writerow([image_id, int(labels[i]), int(pred[i]), *[f"{p:.5f}" for p in probs[i]]])
    return buf.getvalue()


def evaluate_run(
    run_dir: Path,
    *,
    data: RunData | None = None,
    device: torch.device | None = None,
    tta: bool | None = None,
) -> Path:
    """Test metrics, plots and report.md for ``run_dir``; prints the one-screen summary."""
    paths = require_run_dir(run_dir)
    config = read_config(paths.root)
    model, _ = load_run_model(paths.root)
    data = data or RunData.build(config, paths.root, progress=False)
    device = device or pick_device(config.get("device", "auto"))
    tta = config.get("tta", False) if tta is None else tta
    task = data.task
    val = _probs(model, data.val, device, tta, "val")
    test = _probs(model, data.test, device, tta, "test")
    test_metrics = compute_metrics(test[1], test[0], task)
    val_metrics = compute_metrics(val[1], val[0], task)
    history = MetricsLog(paths.metrics).rows() if paths.metrics.is_file() else []
    plots = report.save_plots(paths.plots, task, test_metrics, history)
    extra = [f"Validation: {report.headline(val_metrics)}.\n"]
    fused = _fusion_section(task, data, val, test, test_metrics)
    summary = {**scalar_metrics(test_metrics, "test_"), **scalar_metrics(val_metrics, "val_")}
    if fused:
        extra.append(fused[0])
        summary.update(fused[1])
    best_epoch = _best_epoch(paths)
    text = report.render(
        title=f"{config['arch']} on {config['task']}",
        task=task,
        test=test_metrics,
        counts=data.counts(),
        config=config,
        plots=plots,
        run_dir=paths.root,
        best_epoch=best_epoch,
        extra_sections=extra,
    )
    atomic_write_text(
        paths.root / PREDICTIONS, _predictions_csv(task, data.test.ids, test[1], test[0])
    )
    atomic_write_text(
        paths.root / METRICS_JSON,
        json.dumps(
            {"summary": summary, "test": _jsonable(test_metrics), "val": _jsonable(val_metrics)},
            indent=1,
        ),
    )
    atomic_write_text(paths.report, text)
    print(report.summary(task, test_metrics, paths.root))
    if fused:
        print(
            f"fusing both eyes: test QWK {fused[1]['fused_qwk']:.3f} "
            f"({fused[1]['fusion_qwk_gain']:+.3f})"
        )
    return paths.report


def _best_epoch(paths: RunPaths) -> int | None:
    from shared.runs import load_kept_checkpoint

    _, state = load_kept_checkpoint(paths.root)
    return state.get("best_epoch") or state.get("epoch")


def _jsonable(metrics: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in metrics.items() if k != "roc_curves"}


def run(args: argparse.Namespace) -> int:
    evaluate_run(args.run, device=pick_device(args.device), tta=args.tta)
    return 0
