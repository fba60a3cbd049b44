"""Lab recipes for the retinopathy app: several training runs compared in one table.

    make lab LAB=dr_imbalance            # or: python -m labs dr_imbalance [--quick]

A recipe (``labs/<name>.toml``) has a ``[base]`` table of ``train`` options, optional
``[quick]`` overrides for a smoke run, and one ``[[variant]]`` table per run (``name`` plus the
options it changes). Options are those of :meth:`retinopathy.config.RunConfig.from_options`: the
``train`` command's flags without dashes (``image_size = 96``, ``augment = false`` for
``--no-augment``). Each variant is trained through ``retinopathy.train.train``; finished runs
are reused, a killed one is resumed.
"""

from __future__ import annotations

import json
import re
import time
from pathlib import Path
from typing import Any

from retinopathy.config import RunConfig
from retinopathy.evaluate import METRICS_JSON
from retinopathy.train import resume, train
from shared.atomic import atomic_write_text
from shared.backbones import weights_available
from shared.backbones.weights import offline
from shared.runs import is_run_dir

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


def run_variant(options: dict[str, Any], run: Path) -> tuple[dict[str, float], float]:
    """Train (or resume, or reuse) one variant; its test summary and wall time in seconds."""
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
    metrics = json.loads(done.read_text())
    # per-class recall: what the imbalance remedies are for, and what accuracy hides
    summary = {**metrics["summary"], "recall": metrics.get("test", {}).get("recall", [])}
    return summary, json.loads(timing.read_text())["seconds"]


def table(rows: list[tuple[str, dict[str, float], float | None]]) -> str:
    """One row per variant; ``None`` seconds: a variant that reused another's run."""
    head = "| variant | " + " | ".join(label for _, label in COLUMNS)
    lines = [f"{head} | recall per class | minutes |", "|---" * (len(COLUMNS) + 3) + "|"]
    for name, summary, seconds in rows:
        cells = " | ".join(f"{summary.get(key, float('nan')):.3f}" for key, _ in COLUMNS)
        recall = " / ".join(f"{r:.2f}" for r in summary.get("recall", [])) or "-"
        minutes = "-" if seconds is None else f"{seconds / 60:.1f}"
        lines.append(f"| {name} | {cells} | {recall} | {minutes} |")
    return "\n".join(lines)


def run(recipe: dict[str, Any], out_dir: Path) -> Path:
    base = dict(recipe.get("base", {}))
    if recipe.get("quick"):
        base.update(recipe.get("quick_overrides", {}))
    rows: list[tuple[str, dict[str, float], float | None]] = []
    done: dict[str, tuple[str, dict[str, float]]] = {}  # effective options -> (name, summary)
    for variant in recipe["variant"]:
        name = variant["name"]
        options = effective({**base, **{k: v for k, v in variant.items() if k != "name"}})
        key = json.dumps(options, sort_keys=True)
        if key in done:
            twin, summary = done[key]
            print(f"\n--- {recipe['name']}: {name} = {twin} (no ImageNet weights here) ---")
            rows.append((f"{name} (no ImageNet weights here: = {twin})", summary, None))
            continue
        print(f"\n--- {recipe['name']}: {name} ---", flush=True)
        summary, seconds = run_variant(options, out_dir / slug(name))
        done[key] = (name, summary)
        rows.append((name, summary, seconds))
    text = f"# {recipe['name']}\n\n{recipe.get('description', '')}\n\n{table(rows)}\n"
    path = out_dir / "results.md"
    atomic_write_text(path, text)
    print(text)
    return path
