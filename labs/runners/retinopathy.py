"""Lab recipes for the retinopathy app: several training runs compared in one table.

    make lab LAB=dr_imbalance            # or: python -m labs dr_imbalance [--quick]

A recipe (``labs/<name>.toml``) has a ``[base]`` table of ``train`` options, optional
``[quick]`` overrides for a smoke run, and one ``[[variant]]`` table per run (``name`` plus the
options it changes). Options are those of :meth:`retinopathy.config.RunConfig.from_options`: the
``train`` command's flags without dashes (``image_size = 96``, ``augment = false`` for
``--no-augment``). Each variant is trained through ``retinopathy.train.train``; finished runs
are reused, a killed one is resumed. Every variant is checked before the first one trains, so a
misspelt option in the last costs no training.

Optional top-level keys: ``columns``, extra table columns (:mod:`labs.runners.dr_columns`), and
``[[figure]]`` tables (``name``, ``title``, ``variants``, ``metrics``: ``metrics.csv`` columns),
each drawn as the named variants' curves side by side, one panel per metric.

A ``--quick`` run is a smoke run: its table says so in its title and every row, and its
checkpoints are deleted once its metrics are written (its reports and curves stay).
"""

from __future__ import annotations

import json
import re
import time
from pathlib import Path
from typing import Any

from labs.runners.dr_columns import Record, extra_columns
from retinopathy.config import RunConfig
from retinopathy.evaluate import METRICS_JSON
from retinopathy.train import resume, train
from shared import plotting
from shared.atomic import atomic_write_text
from shared.backbones import weights_available
from shared.backbones.weights import offline
from shared.errors import UserError
from shared.runs import MetricsLog, RunPaths, is_run_dir

SMOKE_ROW = "smoke run"
SMOKE = f"{SMOKE_ROW} (--quick): a check that the recipe runs, not a measurement"

COLUMNS = (
    ("test_accuracy", "accuracy"),
    ("test_qwk", "QWK"),
    ("test_macro_f1", "macro F1"),
    ("test_auc", "AUC"),
)


def slug(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "-", name).strip("-").lower()


def effective(options: dict[str, Any]) -> dict[str, Any]:
    """The options as training will resolve them.

    Offline (``VISIONLAB_OFFLINE=1``) and without cached ImageNet weights, ``pretrained = "auto"``
    trains from random weights: that variant is the same run as its from-scratch twin.
    """
    config = RunConfig.from_options(**options)
    if config.pretrained == "auto" and offline() and not weights_available(config.arch):
        return {**options, "pretrained": "no"}
    return options


def run_variant(options: dict[str, Any], run: Path) -> tuple[Record, float]:
    """Train (or resume, or reuse) one variant; its test metrics and wall time in seconds."""
    done = run / METRICS_JSON
    start = time.perf_counter()
    if not done.is_file():
        if is_run_dir(run):
            resume(run)
        else:
            train(RunConfig.from_options(**options), run)
    seconds = time.perf_counter() - start
    timing = run / "lab_time.json"
    if seconds > 5 or not timing.is_file():
        atomic_write_text(timing, json.dumps({"seconds": seconds}))
    return json.loads(done.read_text()), json.loads(timing.read_text())["seconds"]


def table(rows: list[tuple[str, Record, float | None]], columns: list[str] | None = None) -> str:
    """One row per variant; ``None`` seconds: a variant that reused another's run."""
    extra = extra_columns(columns or [])
    heads = [label for _, label in COLUMNS] + [label for label, _ in extra]
    lines = [
        f"| variant | {' | '.join(heads)} | recall per class | minutes |",
        "|---" * (len(heads) + 3) + "|",
    ]
    for name, record, seconds in rows:
        summary = record["summary"]
        cells = [f"{summary.get(key, float('nan')):.3f}" for key, _ in COLUMNS]
        cells += [cell(record) for _, cell in extra]
        # per-class recall: what the imbalance remedies are for, and what accuracy hides
        recall = " / ".join(f"{r:.2f}" for r in record.get("test", {}).get("recall", [])) or "-"
        minutes = "-" if seconds is None else f"{seconds / 60:.1f}"
        lines.append(f"| {name} | {' | '.join(cells)} | {recall} | {minutes} |")
    return "\n".join(lines)


def variants(recipe: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """Each variant's name and effective options, all checked before anything trains."""
    base = dict(recipe.get("base", {}))
    if recipe.get("quick"):
        base.update(recipe.get("quick_overrides", {}))
    out = []
    for variant in recipe["variant"]:
        name = variant["name"]
        changes = {k: v for k, v in variant.items() if k != "name"}
        try:
            out.append((name, effective({**base, **changes})))
        except UserError as exc:
            raise UserError(f"recipe {recipe['name']}, variant {name!r}: {exc}") from None
    extra_columns(recipe.get("columns", []))
    return out


def figure(spec: dict[str, Any], runs: dict[str, Path], out_dir: Path) -> Path:
    """The named variants' ``metrics.csv`` curves, one panel per metric, one line per variant."""
    panels: dict[str, dict[str, list[float]]] = {}
    for metric in spec["metrics"]:
        series = {}
        for name in spec["variants"]:
            if name not in runs:
                raise UserError(f"figure {spec['name']!r} names no variant {name!r}")
            rows = MetricsLog(RunPaths(runs[name]).metrics).rows()
            series[name] = [float(r[metric]) for r in rows if r.get(metric) is not None]
        panels[metric.replace("_", " ").replace("val ", "validation ")] = series
    path = out_dir / f"{spec['name']}.png"
    return plotting.plot_metric_panels(panels, path, title=spec.get("title", ""))


def run(recipe: dict[str, Any], out_dir: Path) -> Path:
    smoke = bool(recipe.get("quick"))
    rows: list[tuple[str, Record, float | None]] = []
    done: dict[str, tuple[str, Record]] = {}  # effective options -> (name, record)
    runs: dict[str, Path] = {}
    for name, options in variants(recipe):
        key = json.dumps(options, sort_keys=True)
        if key in done:
            twin, record = done[key]
            print(f"\n--- {recipe['name']}: {name} = {twin} (no ImageNet weights here) ---")
            rows.append((f"{name} (no ImageNet weights here: = {twin})", record, None))
            runs[name] = runs[twin]
            continue
        print(f"\n--- {recipe['name']}: {name} ---", flush=True)
        run_dir = out_dir / slug(name)
        record, seconds = run_variant(options, run_dir)
        if smoke:
            paths = RunPaths(run_dir)
            for checkpoint in (paths.best, paths.last):
                checkpoint.unlink(missing_ok=True)
        done[key] = (name, record)
        runs[name] = run_dir
        rows.append((f"{name} ({SMOKE_ROW})" if smoke else name, record, seconds))
    figures = [figure(spec, runs, out_dir) for spec in recipe.get("figure", [])]
    title = f"{recipe['name']}: {SMOKE}" if smoke else recipe["name"]
    text = f"# {title}\n\n{recipe.get('description', '')}\n\n{table(rows, recipe.get('columns'))}\n"
    text += "".join(f"\n![{p.stem}]({p.name})\n" for p in figures)
    path = out_dir / "results.md"
    atomic_write_text(path, text)
    print(text)
    return path
