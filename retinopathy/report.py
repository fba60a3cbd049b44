"""The run's report: plots and ``report.md``, laid out the way the lab reports read.

Per-class precision/recall/F1 and the confusion matrix (true class on rows) come first, because
that is where a model that only ever says "grade 0" shows itself; accuracy comes after, with its
95% interval and beside the "always the majority grade" baseline. The sections on cut points,
operating points and eye fusion are :mod:`retinopathy.report_sections`'.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from retinopathy.metrics import format_rate
from retinopathy.tasks import Task
from retinopathy.uncertainty import format_with_interval
from shared import plotting

if TYPE_CHECKING:
    from retinopathy.provenance import Provenance

POINT_MARKERS = {"high_specificity": "o", "high_sensitivity": "s"}


CURVE_YLABELS = {"loss": "loss", "acc": "accuracy", "qwk": "quadratic weighted kappa"}


def save_plots(
    plots_dir: Path,
    task: Task,
    test: Mapping[str, Any],
    history: Sequence[Mapping[str, float]],
    points: Mapping[str, Mapping[str, Any]] | None = None,
    kept_epoch: int | None = None,
) -> dict[str, Path]:
    """Curves per epoch, both confusion matrices, ROC curves and per-class bars.

    ``points``: the screening operating points on test, marked on the ROC plot beside the
    referable score's curve; ``kept_epoch``: the epoch of the model evaluated, marked on the
    curves.
    """
    out: dict[str, Path] = {}
    if history:
        panels = {}
        for metric in ("loss", "acc", "qwk"):
            series = {
                f"{split} {metric}": [row[f"{split}_{metric}"] for row in history]
                for split in ("train", "val")
                if all(f"{split}_{metric}" in row for row in history)
            }
            if series:
                panels[metric] = series
        out["curves"] = plotting.plot_metric_panels(
            panels, plots_dir / "curves.png", ylabels=CURVE_YLABELS, kept=kept_epoch
        )
    names = list(task.class_names)
    out["confusion"] = plotting.plot_confusion_matrix(
        test["confusion"], names, plots_dir / "confusion.png", title="test confusion (counts)"
    )
    out["confusion_norm"] = plotting.plot_confusion_matrix(
        test["confusion"],
        names,
        plots_dir / "confusion_normalised.png",
        normalize=True,
        title="test confusion (row-normalised = recall)",
    )
    out["per_class"] = plotting.plot_bars(
        {k: test[k] for k in ("precision", "recall", "f1")},
        names,
        plots_dir / "per_class.png",
        title="test per-class metrics",
        notes=absent_notes(test["confusion"]),
    )
    if "roc_curves" in test:
        referable = test.get("roc_referable")
        if referable is None and "roc_fpr" in test:
            referable = (test["roc_fpr"], test["roc_tpr"])
        out["roc"] = _plot_roc(plots_dir / "roc.png", test, names, referable, points)
    return out


def absent_notes(confusion: Sequence[Sequence[int]]) -> dict[int, str]:
    """What the per-class chart writes for a class whose bars are missing: no test photo of it,
    or never predicted (its precision is undefined, and recall and F1 are 0)."""
    cm = np.asarray(confusion)
    notes = {}
    for k in range(len(cm)):
        if cm[k].sum() == 0:
            notes[k] = "no test photos"
        elif cm[:, k].sum() == 0:
            notes[k] = "never predicted"
    return notes


def _plot_roc(
    path: Path,
    test: Mapping[str, Any],
    names,
    referable: tuple[list[float], list[float]] | None = None,
    points: Mapping[str, Mapping[str, Any]] | None = None,
) -> Path:
    """Every curve with its AUC in the legend; a two-class task draws one curve (the second
    class's score; the first's is its mirror image) with the operating points."""
    import matplotlib.pyplot as plt
    from sklearn.metrics import auc

    fig, ax = plt.subplots(figsize=(4.6, 4.4))
    binary = len(names) == 2
    for k, (fpr, tpr) in test["roc_curves"].items():
        if not binary:
            ax.plot(fpr, tpr, label=f"{names[int(k)]} (AUC {test['per_class_auc'][int(k)]:.3f})")
    if referable is not None:
        label = f"{names[1]} score" if binary else "referable score"
        ax.plot(*referable, "k-", lw=1.6, label=f"{label} (AUC {auc(*referable):.3f})")
    for name, point in (points or {}).items():
        ax.plot(
            1 - point["specificity"], point["sensitivity"], POINT_MARKERS.get(name, "^"),
            color="crimson", ms=7, mfc="none", mew=1.8, label=name.replace("_", " "),
        )  # fmt: skip
    ax.plot([0, 1], [0, 1], "k--", lw=0.8)
    ax.set(
        xlabel="false positive rate (1 - specificity)",
        ylabel="true positive rate (sensitivity)",
        title="test ROC" if binary else "test ROC, one vs rest",
    )
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return plotting._save(fig, path)


_fmt = format_rate  # "n/a" where a rate is undefined, as a never-predicted class's precision


def class_table(task: Task, m: Mapping[str, Any]) -> str:
    rows = ["| class | precision | recall | F1 | AUC | support |", "|---|---|---|---|---|---|"]
    for k, name in enumerate(task.class_names):
        rows.append(
            f"| {name} | {_fmt(m['precision'][k])} | {_fmt(m['recall'][k])} | {_fmt(m['f1'][k])} "
            f"| {_fmt(m['per_class_auc'][k])} | {m['support'][k]} |"
        )
    return "\n".join(rows)


def confusion_table(task: Task, confusion: Sequence[Sequence[int]]) -> str:
    names = task.class_names
    head = "| true \\ predicted | " + " | ".join(names) + " |"
    rows = [head, "|---" * (len(names) + 1) + "|"]
    for name, row in zip(names, confusion, strict=True):
        rows.append(f"| **{name}** | " + " | ".join(str(int(v)) for v in row) + " |")
    return "\n".join(rows)


def collapse_warning(task: Task, m: Mapping[str, Any], share: float = 0.9) -> str | None:
    """A loud line when one class takes nearly every prediction (the classic "all grade 0")."""
    predicted = np.asarray(m["confusion"]).sum(axis=0)
    total = predicted.sum()
    if total == 0:
        return None
    k = int(predicted.argmax())
    if predicted[k] / total < share:
        return None
    return (
        f"**Warning: the model predicts '{task.class_names[k]}' for {predicted[k] / total:.0%} of "
        "test photos** - it has collapsed onto one class; look at per-class recall, not accuracy."
    )


HEADLINE = (("qwk", "QWK"), ("accuracy", "accuracy"), ("macro_f1", "macro F1"), ("auc", "AUC"))


def headline(m: Mapping[str, Any], ci: Mapping[str, Sequence[float]] | None = None) -> str:
    """The one-number metrics; with ``ci``, each as "0.88 (0.85-0.91)" (its 95% interval)."""
    names = HEADLINE + ((("sensitivity", "sensitivity"), ("specificity", "specificity"))
                        if "sensitivity" in m else ())  # fmt: skip
    if ci is None:
        return ", ".join(f"{label} {_fmt(m[key])}" for key, label in names)
    return ", ".join(
        f"{label} {format_with_interval(m[key], ci[key]) if key in ci else _fmt(m[key])}"
        for key, label in names
    )


def distribution_table(task: Task, counts: Mapping[str, Sequence[int]]) -> str:
    """Class counts per split (``{"train": [...], "val": [...], "test": [...]}``)."""
    splits = list(counts)
    rows = ["| class | " + " | ".join(splits) + " |", "|---" * (len(splits) + 1) + "|"]
    for k, name in enumerate(task.class_names):
        rows.append(f"| {name} | " + " | ".join(str(counts[s][k]) for s in splits) + " |")
    rows.append("| **total** | " + " | ".join(str(sum(counts[s])) for s in splits) + " |")
    return "\n".join(rows)


def render(
    *,
    title: str,
    task: Task,
    provenance: Provenance | None = None,
    test: Mapping[str, Any],
    counts: Mapping[str, Sequence[int]],
    config: Mapping[str, Any],
    plots: Mapping[str, Path],
    run_dir: Path,
    kept_model: str | None = None,
    extra_sections: Sequence[str] = (),
    photos: str | None = None,
    ci: Mapping[str, Sequence[float]] | None = None,
    beside_headline: Sequence[str] = (),
    test_sections: Sequence[str] = (),
    heading: str = "Test set",
) -> str:
    """``photos``: the data section's line on the prepared photos (usable, rejected, converted).

    ``provenance``: what the model was trained on, from which weights: the report's first line
    under the title, with its warning where the grades of real photos mean nothing.
    ``ci``: the test metrics' 95% intervals; ``beside_headline``: text right under the test
    headline (the baseline row); ``test_sections``: sections after the test set's plots.
    """
    rel = {k: p.relative_to(run_dir).as_posix() for k, p in plots.items()}
    lines = [f"# {title}", "", *provenance_lines(provenance)]
    lines += [f"Task: **{task.name}** ({task.description}).", ""]
    if kept_model is not None:  # the checkpoint and epoch the numbers below are from
        lines += [f"Kept model: {kept_model}.", ""]
    warning = collapse_warning(task, test)
    lines += [f"## {heading}", "", headline(test, ci), ""] + ([warning, ""] if warning else [])
    lines += [p for text in beside_headline for p in (text, "")]
    lines += [
        class_table(task, test),
        "",
        "Confusion matrix (true class on rows):",
        "",
        confusion_table(task, test["confusion"]),
        "",
    ]
    for key in ("confusion", "confusion_norm", "per_class", "roc", "curves"):
        if key in rel:
            lines.append(f"![{key}]({rel[key]})")
    lines += ["", *test_sections]
    lines += ["## Data", ""] + ([f"{photos}.", ""] if photos else [])
    lines += [distribution_table(task, counts), ""]
    lines += list(extra_sections)
    lines += [
        "## Configuration",
        "",
        "```json",
        json.dumps(dict(config), indent=2, default=str),
        "```",
        "",
    ]
    return "\n".join(lines)


def provenance_lines(provenance: Provenance | None) -> list[str]:
    """What the model was trained on and from which weights, with a warning where its grades of
    real photos mean nothing."""
    if provenance is None:
        return []
    lines = [f"This model was {provenance.sentence}.", ""]
    if provenance.caveat:
        lines += [f"**Warning: {provenance.caveat}.**", ""]
    return lines


def explain_section(run_dir: Path, kept: Any, data: Any, predictions: Any) -> tuple[str, Any]:
    """The "Why this grade" section and its pointing game (:mod:`.report_explain`)."""
    from retinopathy.report_explain import explain_section  # torch and the model: only here

    return explain_section(run_dir, kept, data, predictions)


def summary(task: Task, test: Mapping[str, Any], run_dir: Path) -> str:
    """The one-screen summary printed at the end of a run."""
    recall = ", ".join(
        f"{name.split()[0]}: {r:.2f}"
        for name, r in zip(task.class_names, test["recall"], strict=True)
    )
    cm = "\n".join("   " + " ".join(f"{int(v):5d}" for v in row) for row in test["confusion"])
    warning = collapse_warning(task, test)
    return (
        (f"{warning.replace('**', '')}\n" if warning else "")
        + f"test {task.name}: {headline(test)}\n"
        f"recall per class: {recall}\n"
        f"confusion (true rows, predicted columns):\n{cm}\n"
        f"report: {run_dir / 'report.md'}"
    )
