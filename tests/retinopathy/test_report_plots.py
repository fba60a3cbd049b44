"""The report's ROC and per-class figures: AUC in every legend, one curve for a two-class task,
and a word where a class has no bars."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pytest

from retinopathy import report
from retinopathy.metrics import compute_metrics
from retinopathy.tasks import get_task
from shared import plotting


@pytest.fixture
def figures(monkeypatch):
    kept = []

    def keep(fig, path):
        kept.append(fig)
        return path

    monkeypatch.setattr(plotting, "_save", keep)
    yield kept
    plt.close("all")


def _legend(fig) -> list[str]:
    return [t.get_text() for t in fig.axes[0].get_legend().get_texts()]


def _probs(y: np.ndarray, classes: int, seed: int = 0) -> np.ndarray:
    logits = np.random.default_rng(seed).normal(size=(len(y), classes))
    logits[np.arange(len(y)), y] += 1.5
    return np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)


def test_every_roc_curve_names_its_auc(tmp_path, figures):
    task = get_task("grade3")
    y = np.array([0, 1, 2] * 20)
    test = compute_metrics(y, _probs(y, 3), task)
    report._plot_roc(tmp_path / "roc.png", test, task.class_names, ([0, 0.5, 1], [0, 0.9, 1]))
    labels = _legend(figures[0])
    for k, name in enumerate(task.class_names):
        assert f"{name} (AUC {test['per_class_auc'][k]:.3f})" in labels
    assert "referable score (AUC 0.700)" in labels  # the trapezoid under (0,0) (.5,.9) (1,1)


def test_a_two_class_task_draws_one_curve_with_its_operating_points(tmp_path, figures):
    task = get_task("referable")
    y = np.array([0, 1] * 30)
    test = compute_metrics(y, _probs(y, 2), task)
    points = {"high_specificity": {"specificity": 0.9, "sensitivity": 0.6}}
    report.save_plots(tmp_path, task, test, [], points)
    (roc,) = [f for f in figures if f.axes[0].get_title() == "test ROC"]
    labels = _legend(roc)
    assert [s for s in labels if "AUC" in s] == [
        f"{task.class_names[1]} score (AUC {test['auc']:.3f})"
    ]
    assert "high specificity" in labels


def test_a_class_never_predicted_is_labelled_on_the_per_class_chart(tmp_path, figures):
    task = get_task("grade3")
    y = np.array([0, 1, 2] * 10)
    probs = np.zeros((30, 3))
    probs[:, 0], probs[:, 1] = 0.6, 0.4
    probs[y == 1] = [0.3, 0.7, 0.0]  # the last class is never predicted
    test = compute_metrics(y, probs, task)
    report.save_plots(tmp_path, task, test, [{"train_loss": 1.0, "val_loss": 1.1}], kept_epoch=1)
    (bars,) = [f for f in figures if f.axes[0].get_title() == "test per-class metrics"]
    assert [(t.get_text(), t.get_position()[0]) for t in bars.axes[0].texts] == [
        ("never predicted", 2)
    ]
    (curves,) = [f for f in figures if f.axes[0].get_xlabel() == "epoch"]
    assert curves.axes[0].get_ylabel() == "loss"
    assert report.absent_notes([[3, 0], [0, 0]]) == {1: "no test photos"}
