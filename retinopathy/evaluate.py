"""Evaluate a trained run on its test split: metrics, plots, predictions and report.md.

    from retinopathy.evaluate import evaluate
    evaluate("runs/retinopathy/20250101-120000-resnet50-grade5")

Uses the run's own prepared photos, split and kept checkpoint (best.pt on the selected validation
metric), all as the run recorded them: nothing is drawn, read from the original photos or
preprocessed again, and the checkpoint is read once. Photos are graded as the run's head and
its ``thresholds.json`` say (:mod:`retinopathy.grading`: tuned cut points, the screening
operating points); the first evaluation of a run chooses and writes them. The test metrics come
with 95% patient-bootstrap intervals and both operating points (:mod:`retinopathy.results`).
Where patients have both eyes (EyePACS), also reports the gain from fusing the two eyes; a run
on several datasets also gets each dataset's test metrics (``per_source``). With
``EvaluateConfig.data``, another dataset is graded whole instead (:mod:`retinopathy.external`).

Under ``torchrun`` each rank grades its share of the batches; rank 0 gathers them in order,
computes the metrics over the whole split and writes the files once.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import torch
from torch.utils.data import DataLoader

from retinopathy import report, report_sections
from retinopathy.config import EvaluateConfig
from retinopathy.config_checks import cut_points_option
from retinopathy.data.prepared import problems_line
from retinopathy.data.run_data import RunData
from retinopathy.grading import (
    CHECKPOINT_KEY,
    Grading,
    Outputs,
    checkpoint_grading,
    choose_grading,
    choose_points,
    scored,
    with_cut_points,
    write_grading,
)
from retinopathy.metrics import majority_baseline, scalar_metrics
from retinopathy.models import KeptModel, load_run_model, predict_outputs
from retinopathy.predictions import prediction_frame, write_predictions
from retinopathy.prepare import reopen
from retinopathy.provenance import run_provenance
from retinopathy.results import Results, evaluation_results, fused_results, per_source
from shared.atomic import atomic_write_text
from shared.checkpoint import save_checkpoint
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
    """Evaluate the finished run ``config.run`` (or the run folder given); returns report.md.

    With ``config.data``, grades that other dataset instead (:mod:`retinopathy.external`) and
    returns RUN/external/<name>/report.md.
    """
    if not isinstance(config, EvaluateConfig):
        config = EvaluateConfig(Path(config))
    if config.data is not None:  # another dataset, graded whole with the run
        from retinopathy.external import evaluate_external  # it builds on this module

        return evaluate_external(config)
    device = pick_device(config.device)
    init_distributed(device)
    paths = require_run_dir(config.run)
    kept = load_run_model(paths.root)
    choices = Choices(
        cut_points_option(config.thresholds, kept.config.grading),  # checked before any work
        config.spec_target,
        config.sens_target,
        config.bootstrap,
    )
    with cpu_threads(config.threads or kept.config.train.threads):
        dtype = kept.compute_dtype(config.precision, device)
        print(f"evaluating {paths.root} on {describe(device)}, {NAMES[dtype]}", flush=True)
        data = RunData.of_run(reopen(kept.config), kept.config, paths.root)
        return evaluate_run(
            paths.root, data, device, tta=config.tta, kept=kept, choices=choices, dtype=dtype
        )


@dataclass(frozen=True)
class Choices:
    """What one evaluation chooses in place of the run's own (None: the run's)."""

    cut_points: list[float] | None = None
    spec_target: float | None = None
    sens_target: float | None = None
    bootstrap: int | None = None


def evaluate_run(
    run_dir: Path,
    data: RunData,
    device: torch.device,
    *,
    tta: bool | None = None,
    kept: KeptModel | None = None,
    choices: Choices | None = None,
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
        val = dataset_outputs(kept, data.val, device, tta, "val")
        test = dataset_outputs(kept, data.test, device, tta, "test")
    if is_main_process():
        remove_run_temporaries(paths.root)  # what a killed evaluation left; live writers' kept
        grading = run_grading(paths.root, kept, val, tta, choices or Choices())
        _write_results(paths, kept, data, grading, val, test, choices or Choices())
    barrier()  # on every rank, evaluation returns once the report is there
    return paths.report


def run_grading(
    run_dir: Path, kept: KeptModel, val: Outputs, tta: bool, choices: Choices
) -> Grading:
    """The run's stored grading (chosen and stored now if it has none), with ``choices``."""
    run = kept.config
    grading = checkpoint_grading(kept.checkpoint.state, run.grading)
    if grading is None:
        grading = choose_grading(
            run.grading, run.head, val,
            spec_target=run.spec_target, sens_target=run.sens_target, given=run.thresholds,
        )  # fmt: skip
        if tta == run.tta:  # chosen on the outputs the run itself gives: the run's own
            store_grading(run_dir, kept, grading)
    targets = (choices.spec_target or run.spec_target, choices.sens_target or run.sens_target)
    if targets != (run.spec_target, run.sens_target):
        grading = replace(grading, points=choose_points(run.grading, val, *targets))
    return with_cut_points(grading, choices.cut_points)


def store_grading(run_dir: Path, kept: KeptModel, grading: Grading) -> None:
    """The grading into the kept checkpoint (its owner: :mod:`retinopathy.grading`), and its
    readable copy into the run folder."""
    kept.checkpoint.state[CHECKPOINT_KEY] = grading.to_json()
    save_checkpoint(kept.checkpoint.path, kept.checkpoint.state)
    write_grading(run_dir, grading)


def _write_results(
    paths: RunPaths,
    kept: KeptModel,
    data: RunData,
    grading: Grading,
    val: Outputs,
    test: Outputs,
    choices: Choices,
) -> None:
    """Metrics, predictions, plots and report.md from the gathered outputs; the summary."""
    task = data.task
    n_resamples = choices.bootstrap or kept.config.bootstrap
    results = evaluation_results(grading, val, test, data.patients("test"), n_resamples)
    fused = fused_results(grading, val, test, data.patients("val"), data.patients("test"))
    summary = {**scalar_metrics(results.test, "test_"), **scalar_metrics(results.val, "val_")}
    if fused:
        alpha, fused_metrics = fused
        gain = fused_metrics["qwk"] - results.test["qwk"]
        summary.update(fusion_alpha=alpha, fused_qwk=fused_metrics["qwk"], fusion_qwk_gain=gain)
    frame = prediction_frame(
        task, data.test.ids, test.probs, labels=test.labels,
        grades=grading.grades(test.probs, test.scores),
        scores=test.scores if scored(grading.head) else None,
    )  # fmt: skip
    write_predictions(paths.root / PREDICTIONS, frame)
    sources = data.sources("test")
    by_source = None if sources is None else per_source(grading, test, sources)
    explained, game = report.explain_section(paths.root, kept, data, frame)
    record = {
        "summary": summary,
        "test": _jsonable(results.test),
        **({} if by_source is None else {"per_source": by_source}),
        "val": _jsonable(results.val),
        "ci95": results.ci95,
        "operating_points": results.operating_points,
        "cut_points": results.cut_points,
        "grading": grading.to_json(),
        **({"pointing_game": game.to_json()} if game and game.photos else {}),
    }
    atomic_write_text(paths.root / METRICS_JSON, json.dumps(record, indent=1))
    baseline = majority_baseline(data.train.labels, test.labels, task.num_classes)
    _write_report(paths, kept, data, grading, results, fused, baseline, explained, by_source)
    print(report.summary(task, results.test, paths.root))
    for name, m in (by_source or {}).items():
        print(f"test {name}: {m['n']} photos, QWK {m['qwk']:.3f}, accuracy {m['accuracy']:.3f}")
    for line in report_sections.summary_lines(results, summary):
        print(line)


def dataset_outputs(kept: KeptModel, dataset, device, tta: bool, name: str) -> Outputs:
    """Probabilities, scores and labels of the whole ``dataset``, in order, on every rank.

    Each rank grades its share of the batches one process would run (batches of consecutive
    photos), so the numbers do not depend on how many ranks share the work.
    """
    mine = my_share(batch_ranges(len(dataset), BATCH_SIZE))
    local: list[tuple[torch.Tensor, ...]] = []
    if mine:  # more ranks than batches leaves a rank without any
        loader = DataLoader(dataset, batch_sampler=mine)
        bar = lambda it: progress(it, desc=f"evaluate {name}", unit="batch", leave=False)  # noqa: E731
        got = predict_outputs(kept.model, kept.head, loader, device, tta=tta, progress=bar)
        sizes = [len(b) for b in mine]
        local = list(zip(*(t.split(sizes) for t in got), strict=True))
    batches = in_input_order(all_gather_object(local))
    probs, scores, labels = (torch.cat([b[i] for b in batches]).numpy() for i in range(3))
    return Outputs(probs, scores, labels)


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
    grading: Grading,
    results: Results,
    fused: tuple[float, dict[str, Any]] | None,
    baseline: dict[str, Any],
    explained: str,
    by_source: dict[str, dict] | None = None,
) -> None:
    history = MetricsLog(paths.metrics).rows()
    plots = report.save_plots(
        paths.plots, data.task, results.test, history, results.operating_points, kept.epoch
    )
    config = kept.config
    extra = [f"Validation: {report.headline(results.val)}.\n"]
    if fused and fused[0] > 0:  # a weight of 0 chose the single eye: nothing to show
        extra.append(report_sections.fusion_section(results.test, fused, data.patients("test")))
    extra.append(explained)
    text = report.render(
        title=f"{config.arch} on {config.task}, {grading.head} head",
        task=data.task,
        provenance=run_provenance(paths.root, config),
        test=results.test,
        counts=data.counts(),
        config=config.to_json(),
        plots=plots,
        run_dir=paths.root,
        kept_model=kept_line(kept),
        extra_sections=extra,
        photos=problems_line(data.prepared),
        ci=results.ci95,
        beside_headline=[report_sections.baseline_table(data.task, results.test, baseline)],
        test_sections=[
            *([report_sections.per_source_section(by_source)] if by_source else []),
            *report_sections.grading_sections(grading, results),
        ],
    )
    atomic_write_text(paths.report, text)


def kept_line(kept: KeptModel) -> str:
    """Which checkpoint the report's numbers are from, and its epoch, as the file itself says."""
    checkpoint = kept.checkpoint
    why = checkpoint.note or f"best `{kept.config.select}`"
    where = f"{checkpoint.path.parent.name}/{checkpoint.path.name}"
    return f"`{where}`, {checkpoint.when} ({why})"


def _jsonable(metrics: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in metrics.items() if k not in ("roc_curves", "roc_referable")}
