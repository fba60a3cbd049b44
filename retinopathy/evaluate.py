"""Evaluate a trained run on its test split: metrics, plots, predictions and report.md.

    from retinopathy.evaluate import evaluate
    evaluate("runs/retinopathy/20250101-120000-resnet50-grade5")

Uses the run's own prepared photos, split and kept checkpoint (best.pt on the selected validation
metric), all as the run recorded them: nothing is drawn, read from the original photos or
preprocessed again, and the checkpoint is read once. Where patients have both eyes (EyePACS),
also reports the gain from fusing the two eyes.

Under ``torchrun`` each rank grades its share of the batches; rank 0 gathers them in order,
computes the metrics over the whole split and writes the files once.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader

from retinopathy import fusion, report
from retinopathy.config import EvaluateConfig
from retinopathy.data.prepared import problems_line
from retinopathy.data.run_data import RunData
from retinopathy.metrics import compute_metrics, scalar_metrics
from retinopathy.models import KeptModel, load_run_model, predict_probs
from retinopathy.predictions import prediction_frame, write_predictions
from retinopathy.prepare import reopen
from retinopathy.tasks import Task
from shared.atomic import atomic_write_text
from shared.device import describe, pick_device
from shared.distributed import (
    all_gather_object,
    barrier,
    batch_ranges,
    in_input_order,
    init_distributed,
    is_main_process,
    my_share,
)
from shared.precision import NAMES, autocast
from shared.runs import MetricsLog, RunPaths, progress, remove_run_temporaries, require_run_dir
from shared.threads import cpu_threads

PREDICTIONS = "test_predictions.csv"
METRICS_JSON = "test_metrics.json"
BATCH_SIZE = 64  # evaluation holds no gradients: twice the training batch fits


def evaluate(config: EvaluateConfig | str | Path) -> Path:
    """Evaluate the finished run ``config.run`` (or the run folder given); returns report.md."""
    if not isinstance(config, EvaluateConfig):
        config = EvaluateConfig(Path(config))
    device = pick_device(config.device)
    init_distributed(device)
    paths = require_run_dir(config.run)
    kept = load_run_model(paths.root)
    with cpu_threads(config.threads or kept.config.train.threads):
        dtype = kept.compute_dtype(config.precision, device)
        print(f"evaluating {paths.root} on {describe(device)}, {NAMES[dtype]}", flush=True)
        data = RunData.of_run(reopen(kept.config), kept.config, paths.root)
        return evaluate_run(paths.root, data, device, tta=config.tta, kept=kept, dtype=dtype)


def evaluate_run(
    run_dir: Path,
    data: RunData,
    device: torch.device,
    *,
    tta: bool | None = None,
    kept: KeptModel | None = None,
    dtype: torch.dtype | None = None,
) -> Path:
    """Test metrics, plots and report.md of ``run_dir`` from ``data`` (training hands its own).

    ``tta``, ``dtype``: None evaluates as the run was trained (its precision: the one its
    validation picked the kept model in). Prints the one-screen summary.
    """
    paths = RunPaths(run_dir)
    kept = kept or load_run_model(paths.root)
    tta = kept.config.tta if tta is None else tta
    dtype = kept.compute_dtype(None, device) if dtype is None else dtype
    with autocast(device, dtype):
        val = _probs(kept.model, data.val, device, tta, "val")
        test = _probs(kept.model, data.test, device, tta, "test")
    if is_main_process():
        _write_results(paths, kept, data, val, test)
    barrier()  # on every rank, evaluation returns once the report is there
    return paths.report


def _write_results(
    paths: RunPaths,
    kept: KeptModel,
    data: RunData,
    val: tuple[np.ndarray, np.ndarray],
    test: tuple[np.ndarray, np.ndarray],
) -> None:
    """Metrics, predictions, plots and report.md from the gathered probabilities; the summary."""
    remove_run_temporaries(paths.root)  # what a killed evaluation left; live writers' are kept
    task = data.task
    test_metrics = compute_metrics(test[1], test[0], task)
    val_metrics = compute_metrics(val[1], val[0], task)
    fused = _fusion_section(task, data, val, test, test_metrics)
    summary = {**scalar_metrics(test_metrics, "test_"), **scalar_metrics(val_metrics, "val_")}
    extra = [f"Validation: {report.headline(val_metrics)}.\n"]
    if fused:
        extra.append(fused[0])
        summary.update(fused[1])
    frame = prediction_frame(task, data.test.ids, test[0], labels=test[1])
    write_predictions(paths.root / PREDICTIONS, frame)
    results = {"summary": summary, "test": _jsonable(test_metrics), "val": _jsonable(val_metrics)}
    atomic_write_text(paths.root / METRICS_JSON, json.dumps(results, indent=1))
    _write_report(paths, kept, data, test_metrics, extra)
    print(report.summary(task, test_metrics, paths.root))
    if fused:
        print(
            f"fusing both eyes: test QWK {fused[1]['fused_qwk']:.3f} "
            f"({fused[1]['fusion_qwk_gain']:+.3f})"
        )


def _probs(model, dataset, device, tta: bool, name: str) -> tuple[np.ndarray, np.ndarray]:
    """Probabilities and labels of the whole ``dataset``, in order, on every rank.

    Each rank grades its share of the batches one process would run (batches of consecutive
    photos), so the numbers do not depend on how many ranks share the work.
    """
    mine = my_share(batch_ranges(len(dataset), BATCH_SIZE))
    local: list[tuple[torch.Tensor, torch.Tensor]] = []
    if mine:  # more ranks than batches leaves a rank without any
        loader = DataLoader(dataset, batch_sampler=mine)
        bar = lambda it: progress(it, desc=f"evaluate {name}", unit="batch", leave=False)  # noqa: E731
        probs, labels = predict_probs(model, loader, device, tta=tta, progress=bar)
        sizes = [len(b) for b in mine]
        local = list(zip(probs.split(sizes), labels.split(sizes), strict=True))
    batches = in_input_order(all_gather_object(local))
    return (
        torch.cat([p for p, _ in batches]).numpy(),
        torch.cat([y for _, y in batches]).numpy(),
    )


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


def fusion_alpha(run_dir: Path) -> float | None:
    """The eye-fusion weight the run's evaluation chose on validation (None: not evaluated)."""
    path = Path(run_dir) / METRICS_JSON
    if not path.is_file():
        return None
    return json.loads(path.read_text()).get("summary", {}).get("fusion_alpha")


def _write_report(
    paths: RunPaths,
    kept: KeptModel,
    data: RunData,
    test_metrics: dict[str, Any],
    extra: list[str],
) -> None:
    history = MetricsLog(paths.metrics).rows()
    plots = report.save_plots(paths.plots, data.task, test_metrics, history)
    config = kept.config
    text = report.render(
        title=f"{config.arch} on {config.task}",
        task=data.task,
        test=test_metrics,
        counts=data.counts(),
        config=config.to_json(),
        plots=plots,
        run_dir=paths.root,
        kept_model=_kept_line(kept),
        extra_sections=extra,
        photos=problems_line(data.prepared),
    )
    atomic_write_text(paths.report, text)


def _kept_line(kept: KeptModel) -> str:
    """Which checkpoint the report's numbers are from, and its epoch, as the file itself says."""
    checkpoint = kept.checkpoint
    why = checkpoint.note or f"best `{kept.config.select}`"
    where = f"{checkpoint.path.parent.name}/{checkpoint.path.name}"
    return f"`{where}`, {checkpoint.when} ({why})"


def _jsonable(metrics: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in metrics.items() if k != "roc_curves"}
