"""Grade a whole other labelled dataset with a finished run: the generalisation gap, one command.

    from retinopathy.config import EvaluateConfig
    from retinopathy.external import evaluate_external
    evaluate_external(EvaluateConfig(run, data="~/data/aptos", format="aptos"))
    # -> RUN/external/aptos/report.md, metrics.json, predictions.csv, plots/

Every photo of the other dataset is a test photo. It is preprocessed as the run's own photos were
(the run's image size, preprocessing mode and cache), normalised by the run's training mean and
std, graded by the run's kept checkpoint in the run's precision and at the run's cut points and
operating points (``thresholds.json``), and scored as ``evaluate`` scores the run's test split:
the same metrics, patient-bootstrap intervals and operating points
(:func:`retinopathy.results.set_results`). The report sets the run's own test numbers beside the
external ones.

A row graded outside the clinical scale is refused before any work (one line, exit 2): no task
of the run can score it. The report folder is written whole under a temporary name beside it,
then renamed into place, so a rerun replaces it and a failure leaves the previous one.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import warnings
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np

from retinopathy import report, report_sections
from retinopathy.config import DataConfig, EvaluateConfig, RunConfig
from retinopathy.config_checks import cut_points_option
from retinopathy.data.augment import eval_transform
from retinopathy.data.dataset import FundusDataset
from retinopathy.data.pooled import dataset_name, safe_name
from retinopathy.data.prepared import PreparedSet, problems_line
from retinopathy.data.run_data import SPLIT_FILE, RunData
from retinopathy.data.sources import NOT_A_GRADE, Source, load_source
from retinopathy.data.splits import load_split
from retinopathy.evaluate import (
    METRICS_JSON,
    Choices,
    dataset_outputs,
    kept_line,
    run_grading,
)
from retinopathy.grading import Grading, Outputs, checkpoint_grading, scored, with_cut_points
from retinopathy.metrics import format_rate, scalar_metrics
from retinopathy.models import KeptModel, load_run_model
from retinopathy.predictions import prediction_frame, write_predictions
from retinopathy.prepare import prepare, reopen
from retinopathy.results import Results, set_results
from retinopathy.tasks import GRADE_RANGE, GRADES, Task
from shared.atomic import atomic_write_text, writer_alive, written_at
from shared.device import describe, pick_device
from shared.errors import UserError
from shared.precision import NAMES, autocast
from shared.runs import RunPaths, require_run_dir
from shared.threads import cpu_threads

EXTERNAL = "external"  # RUN/external/<dataset name>/
REPORT = "report.md"
METRICS = "metrics.json"
PREDICTIONS = "predictions.csv"
_PARTIAL = ".partial"  # the suffix of a report folder still being written


def external_dir(run_dir: str | Path, name: str) -> Path:
    return Path(run_dir) / EXTERNAL / name


def evaluate_external(config: EvaluateConfig) -> Path:
    """Grade the dataset ``config.data`` with the run ``config.run``; returns its report.md."""
    if config.data is None:
        raise ValueError("evaluate_external needs config.data")
    device = pick_device(config.device)
    paths = require_run_dir(config.run)
    kept = load_run_model(paths.root)
    run = kept.config
    choices = Choices(
        cut_points_option(config.thresholds, run.grading),  # checked before any work
        config.spec_target,
        config.sens_target,
        config.bootstrap,
    )
    source = load_source(config.data, config.format)
    check_grades(source, run.grading)
    name = _folder_name(config.name) if config.name else dataset_name(config.data)
    with cpu_threads(config.threads or run.train.threads):
        prepared = prepare(_data_config(run, source), progress=False, source=source)
        dtype = kept.compute_dtype(config.precision, device)
        tta = run.tta if config.tta is None else config.tta
        print(
            f"grading {source.root} ({source.format}, {len(prepared)} photos) with "
            f"{paths.root} on {describe(device)}, {NAMES[dtype]}",
            flush=True,
        )
        with autocast(device, dtype):
            grading = _grading(paths, kept, tta, choices, device)
            outputs = dataset_outputs(kept, _whole_set(prepared, run, paths), device, tta, name)
    record = {"name": name, **_provenance(paths, kept, source, prepared, NAMES[dtype], tta)}
    record["seen_in_training"] = _seen_in_training(paths, prepared)
    return _write_folder(paths, name, kept, grading, outputs, prepared, record, choices)


def check_grades(source: Source, task: Task) -> None:
    """A UserError when any row is graded outside the clinical scale: every task maps only the
    grades 0-4 to its classes, so the run cannot score such a dataset."""
    off = [p for p in source.rejected if NOT_A_GRADE in p.reason]
    if off:
        raise UserError(
            f"{source.root}: {len(off)} row(s) graded outside {GRADE_RANGE}, which the run's "
            f"{task.name} task ({task.description}) cannot score (first: {off[0].reason}); "
            "fix or remove them"
        )


def _folder_name(name: str) -> str:
    safe = safe_name(name)
    if not safe:
        raise UserError(f"--name {name!r} leaves no usable folder name")
    return safe


def _data_config(run: RunConfig, source: Source) -> DataConfig:
    """The other dataset, to be preprocessed as the run's photos were (size, mode, cache)."""
    own = run.data
    return DataConfig(
        str(source.root),
        source.format,
        image_size=own.image_size,
        mode=own.mode,
        storage=own.storage,
        cache=own.cache,
        workers=own.workers,
    )


def _whole_set(prepared: PreparedSet, run: RunConfig, paths: RunPaths) -> FundusDataset:
    """Every prepared photo, transformed as the run's test photos are (its own mean and std)."""
    mean, std = run.mean, run.std
    if mean is None or std is None:  # a run that did not record them: its training photos'
        own = RunData.of_run(reopen(run), run, paths.root)
        mean, std = own.mean, own.std
    transform = eval_transform(run.data.image_size, mean, std)
    target = run.grading.grade_to_class.__getitem__
    return FundusDataset(
        prepared, list(range(len(prepared))), transform=transform, target_transform=target
    )


def _grading(paths: RunPaths, kept: KeptModel, tta: bool, choices: Choices, device) -> Grading:
    """The run's stored grading; chosen again on the run's own validation photos only where the
    run has none stored or other screening targets are asked for."""
    run = kept.config
    stored = checkpoint_grading(kept.checkpoint.state, run.grading)
    if stored is not None and choices.spec_target is None and choices.sens_target is None:
        return with_cut_points(stored, choices.cut_points)
    own = RunData.of_run(reopen(run), run, paths.root)
    val = dataset_outputs(kept, own.val, device, tta, "val")
    return run_grading(paths.root, kept, val, tta, choices)


def _seen_in_training(paths: RunPaths, prepared: PreparedSet) -> int:
    """How many of the photos the run trained or validated on (the same files); warns if any,
    since those photos say nothing about how the run does on data it never saw."""
    split_file = paths.root / SPLIT_FILE
    if not split_file.is_file():
        return 0
    split = load_split(split_file)
    seen = {os.path.realpath(p) for p in split.loc[split["split"] != "test", "path"]}
    n = sum(os.path.realpath(r.path) in seen for r in prepared.records)
    if n:
        warnings.warn(
            f"{n} of the {len(prepared)} photos are ones {paths.root} trained or validated on: "
            "its numbers on them are not a generalisation gap",
            stacklevel=2,
        )
    return n


def _provenance(
    paths: RunPaths,
    kept: KeptModel,
    source: Source,
    prepared: PreparedSet,
    precision: str,
    tta: bool,
) -> dict[str, Any]:
    """Where the report's numbers come from: the run, its checkpoint, the dataset and how it
    was read and preprocessed."""
    run = kept.config
    grades = Counter(r.grade for r in prepared.records)
    return {
        "run": str(paths.root),
        "checkpoint": str(kept.checkpoint.path),
        "epoch": kept.epoch,
        "dataset": str(source.root),
        "format": source.format,
        "photos": len(prepared),
        "rejected": len({p.id for p in prepared.rejected}),
        "grade_counts": {str(g): grades.get(g, 0) for g in GRADES},
        "task": run.task,
        "image_size": run.data.image_size,
        "mode": run.data.mode,
        "mean": run.mean,
        "std": run.std,
        "precision": precision,
        "tta": tta,
        "prepared": str(prepared.folder),
    }


def _write_folder(
    paths: RunPaths,
    name: str,
    kept: KeptModel,
    grading: Grading,
    outputs: Outputs,
    prepared: PreparedSet,
    record: dict[str, Any],
    choices: Choices,
) -> Path:
    """Write the report folder under a temporary name, then rename it into place."""
    target = external_dir(paths.root, name)
    target.parent.mkdir(parents=True, exist_ok=True)
    _remove_dead_partials(target)
    partial = target.with_name(f".{name}.{os.getpid()}-{secrets.token_hex(4)}{_PARTIAL}")
    try:
        partial.mkdir()
        results = _write_results(partial, paths, kept, grading, outputs, prepared, record, choices)
        _replace_folder(partial, target)
    finally:
        shutil.rmtree(partial, ignore_errors=True)
    print(report.summary(grading.task, results.test, target))
    return target / REPORT


def _write_results(
    folder: Path,
    paths: RunPaths,
    kept: KeptModel,
    grading: Grading,
    out: Outputs,
    prepared: PreparedSet,
    record: dict[str, Any],
    choices: Choices,
) -> Results:
    """metrics.json, predictions.csv, plots/ and report.md of the graded set, into ``folder``."""
    task = grading.task
    patients = [r.patient for r in prepared.records]
    results = set_results(grading, out, patients, choices.bootstrap or kept.config.bootstrap)
    grades = grading.grades(out.probs, out.scores)
    frame = prediction_frame(
        task, [r.id for r in prepared.records], out.probs, labels=out.labels, grades=grades,
        scores=out.scores if scored(grading.head) else None,
    )  # fmt: skip
    write_predictions(folder / PREDICTIONS, frame)
    own = _own_test_metrics(paths.root)
    metrics = {
        "source": record,
        "summary": scalar_metrics(results.test, "external_"),
        "test": {k: v for k, v in results.test.items() if k not in ("roc_curves", "roc_referable")},
        "ci95": results.ci95,
        "operating_points": results.operating_points,
        "grading": grading.to_json(),
        "run_test": own,
    }
    atomic_write_text(folder / METRICS, json.dumps(metrics, indent=1))
    plots = report.save_plots(folder / "plots", task, results.test, [], results.operating_points)
    counts = {"external": np.bincount(out.labels, minlength=task.num_classes).tolist()}
    text = report.render(
        title=f"{kept.config.arch} on {task.name}, {grading.head} head: {record['name']}",
        task=task,
        test=results.test,
        counts=counts,
        config=record,
        plots=plots,
        run_dir=folder,
        kept_model=kept_line(kept),
        photos=problems_line(prepared),
        ci=results.ci95,
        beside_headline=[gap_table(results.test, own)],
        test_sections=report_sections.grading_sections(grading, results),
        heading="External set (every photo graded)",
    )
    atomic_write_text(folder / REPORT, text)
    return results


def _own_test_metrics(run_dir: Path) -> dict[str, Any] | None:
    """The run's own test-split accuracy, QWK, macro F1 and photo count (None: not evaluated)."""
    path = run_dir / METRICS_JSON
    if not path.is_file():
        return None
    test = json.loads(path.read_text()).get("test", {})
    if "qwk" not in test:
        return None
    keys = ("accuracy", "qwk", "macro_f1")
    return {**{k: test[k] for k in keys}, "n": int(sum(test.get("support", [])))}


def gap_table(external: dict[str, Any], own: dict[str, Any] | None) -> str:
    """The external set's row beside the run's own test split, and the difference."""
    keys = ("accuracy", "qwk", "macro_f1")

    def row(name: str, n: int | str, values: list[str]) -> str:
        return f"| {name} | {n} | " + " | ".join(values) + " |"

    rows = ["| | photos | accuracy | QWK | macro F1 |", "|---|---|---|---|---|"]
    n = int(sum(external["support"]))
    rows.append(row("this dataset", n, [format_rate(external[k]) for k in keys]))
    if own is not None:
        rows.append(row("the run's own test split", own["n"], [format_rate(own[k]) for k in keys]))
        gap = [f"{external[k] - own[k]:+.3f}" for k in keys]
        rows.append(row("difference (this - own)", "", gap))
    return "\n".join(rows)


def _replace_folder(new: Path, target: Path) -> None:
    """Put the finished folder ``new`` at ``target``; an older one there is moved aside first and
    deleted only after the rename (a folder cannot be renamed over a non-empty one)."""
    old = None
    if target.exists():
        old = target.with_name(f".{target.name}.{os.getpid()}-{secrets.token_hex(4)}.old")
        os.replace(target, old)
    os.replace(new, target)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def _remove_dead_partials(target: Path) -> None:
    """Delete what an evaluation of the same dataset left when it was killed mid-write."""
    for path in target.parent.glob(f".{target.name}.*"):
        pid = path.name[len(target.name) + 2 :].split("-", 1)[0]
        if pid.isdigit() and not writer_alive(int(pid), written_at(path)):
            shutil.rmtree(path, ignore_errors=True)
