"""The report's sections on how the run grades: the majority-grade baseline beside the model,
the cut points with the QWK before and after tuning, the two screening operating points with
their 95% intervals, and the per-patient fusion of both eyes (left out when its weight is 0)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from retinopathy import fusion
from retinopathy.grading import DECIDING_POINT, Grading
from retinopathy.metrics import format_rate
from retinopathy.operating_points import HIGH_SENSITIVITY, HIGH_SPECIFICITY
from retinopathy.results import Results
from retinopathy.tasks import REFERABLE_GRADE, Task
from retinopathy.uncertainty import format_with_interval

POINT_NAMES = {HIGH_SPECIFICITY: "high specificity", HIGH_SENSITIVITY: "high sensitivity"}
POINT_TARGETS = {HIGH_SPECIFICITY: "specificity", HIGH_SENSITIVITY: "sensitivity"}
CUT_ROWS = {"midpoints": "before tuning", "tuned": "after tuning", "in use": "in use"}


def baseline_table(task: Task, test: Mapping[str, Any], baseline: Mapping[str, Any]) -> str:
    """The model's test row beside "always the majority grade" (the training set's commonest)."""
    rows = ["| | accuracy | QWK | macro F1 |", "|---|---|---|---|"]
    for name, m in (
        ("this model", test),
        (f"always the majority grade ({task.class_names[baseline['class']]})", baseline),
    ):
        rows.append(
            f"| {name} | {format_rate(m['accuracy'])} | {format_rate(m['qwk'])} "
            f"| {format_rate(m['macro_f1'])} |"
        )
    return "\n".join(rows)


def grading_sections(grading: Grading, results: Results) -> list[str]:
    """The cut points section (where the run cuts a score) and the operating points section."""
    out = []
    if results.cut_points is not None:
        out.append(cut_points_section(grading, results.cut_points))
    out.append(operating_points_section(grading, results))
    return out


def cut_points_section(grading: Grading, cuts: Mapping[str, Any]) -> str:
    """The cut points in use and the QWK at each set of cut points, validation and test."""
    in_use = cuts["in_use"]
    shown = "the most probable class" if in_use is None else _numbers(in_use)
    lines = [
        "## Cut points between grades",
        "",
        f"The {grading.head} head's score becomes a grade at cut points "
        f"{shown}" + (f" ({cuts['source']})." if cuts["source"] else "."),
        "",
    ]
    for name, row in cuts["rows"].items():
        label = CUT_ROWS.get(name, name)
        lines.append(
            f"- QWK {label} (cut points {_numbers(row['cut_points'])}): validation "
            f"{format_rate(row['val_qwk'])}, test {format_rate(row['test_qwk'])}."
        )
    return "\n".join(lines) + "\n"


def operating_points_section(grading: Grading, results: Results) -> str:
    """Both operating points: chosen on validation, their sensitivity/specificity on test."""
    task, points = grading.task, results.operating_points
    lines = ["## Screening operating points", ""]
    asked = "P(grade >= 1)" if not task.referable_is_exact else f"P(grade >= {REFERABLE_GRADE})"
    lines.append(
        f"The referable score is {asked}, the class probabilities summed over "
        + ", ".join(f"'{task.class_names[k]}'" for k in task.referable_classes)
        + ". Each threshold was chosen on validation and applied unchanged to test; "
        "intervals: 95%, bootstrap over patients."
    )
    if task.is_binary:
        lines.append(
            f"On this task the {POINT_NAMES[DECIDING_POINT]} point makes the hard predictions "
            f"above (threshold {grading.referral_threshold:.4g})."
        )
    lines.append("")
    if not points:
        return "\n".join([*lines, "None: the validation photos hold one class only.", ""])
    lines += [
        "| point | target | threshold | val sensitivity | val specificity | test sensitivity "
        "| test specificity |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, p in points.items():
        flag = " (degenerate)" if p["degenerate"] else ""
        ci = p["ci95"]
        lines.append(
            f"| {POINT_NAMES.get(name, name)}{flag} | {POINT_TARGETS.get(name, '')} >= "
            f"{p['target']:g} | {p['threshold']:.4g} | {format_rate(p['val_sensitivity'])} "
            f"| {format_rate(p['val_specificity'])} "
            f"| {format_with_interval(p['sensitivity'], ci['sensitivity'], 3)} "
            f"| {format_with_interval(p['specificity'], ci['specificity'], 3)} |"
        )
    return "\n".join(lines) + "\n"


def fusion_section(
    test: Mapping[str, Any],
    fused: tuple[float, Mapping[str, Any]],
    test_patients: Sequence[str | None],
) -> str:
    alpha, m = fused
    gain = m["qwk"] - test["qwk"]
    return (
        "## Per-patient fusion of both eyes\n\n"
        f"Each eye's probabilities blended with the other eye's (weight {alpha}, chosen on "
        f"validation), over {len(fusion.pairs(test_patients))} test patients with both eyes.\n\n"
        "| | QWK | accuracy | macro F1 |\n|---|---|---|---|\n"
        f"| single eye | {test['qwk']:.3f} | {test['accuracy']:.3f} | {test['macro_f1']:.3f} |\n"
        f"| fused | {m['qwk']:.3f} | {m['accuracy']:.3f} | {m['macro_f1']:.3f} |\n\n"
        f"QWK gain from fusion: {gain:+.3f}.\n"
    )


def per_source_section(rows: Mapping[str, Mapping[str, Any]]) -> str:
    """A pooled run's test metrics for each dataset, beside the pooled ones above."""
    lines = [
        "## Test set by dataset",
        "",
        "Each dataset was split on its own (by patient, with the run's seed); one model was "
        "trained on the union and graded each dataset's test photos as it grades all of them.",
        "",
        "| dataset | photos | accuracy | QWK | macro F1 | AUC |",
        "|---|---|---|---|---|---|",
    ]
    for name, m in rows.items():
        lines.append(
            f"| {name} | {m['n']} | {format_rate(m['accuracy'])} | {format_rate(m['qwk'])} "
            f"| {format_rate(m['macro_f1'])} | {format_rate(m['auc'])} |"
        )
    return "\n".join(lines) + "\n"


def summary_lines(results: Results, summary: Mapping[str, Any]) -> list[str]:
    """What the end-of-run summary adds: cut points, operating points, eye fusion."""
    lines = []
    cuts = results.cut_points
    if cuts is not None and cuts["in_use"] is not None:
        lines.append(f"cut points {_numbers(cuts['in_use'])} ({cuts['source']})")
    for name, p in results.operating_points.items():
        lines.append(
            f"{POINT_NAMES.get(name, name)} point (threshold {p['threshold']:.4g}): test "
            f"sensitivity {format_rate(p['sensitivity'])}, "
            f"specificity {format_rate(p['specificity'])}"
        )
    if summary.get("fusion_alpha"):
        lines.append(
            f"fusing both eyes: test QWK {summary['fused_qwk']:.3f} "
            f"({summary['fusion_qwk_gain']:+.3f})"
        )
    return lines


def _numbers(values: Sequence[float]) -> str:
    return ", ".join(f"{v:.3g}" for v in values)
