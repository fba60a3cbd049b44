"""shared.plotting: each figure lands as a real PNG, atomically, with what it was given."""

from __future__ import annotations

import matplotlib.image
import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch

from shared import plotting


def _png(path):
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    image = matplotlib.image.imread(path)
    assert image.ndim == 3 and min(image.shape[:2]) > 100
    assert [p.name for p in path.parent.iterdir() if p.name.startswith(".")] == []  # no temp
    return image


def test_curves_and_panels(tmp_path):
    path = plotting.plot_curves(
        {"train_loss": [1.0, 0.5, 0.3], "val_loss": [1.1, 0.7, 0.6]}, tmp_path / "a" / "loss.png",
        ylabel="loss", logy=True,
    )  # fmt: skip
    _png(path)
    panels = plotting.plot_metric_panels(
        {"loss": {"train": [1, 0.5]}, "qwk": {"val": [0.1, 0.4]}}, tmp_path / "panels.png"
    )
    one = _png(plotting.plot_metric_panels({"loss": {"train": [1, 0.5]}}, tmp_path / "one.png"))
    assert _png(panels).shape[1] > 1.5 * one.shape[1]  # two panels side by side
    assert plt.get_fignums() == []  # figures are closed, not leaked


def test_confusion_matrix_raw_and_normalised(tmp_path, monkeypatch):
    texts = []
    real_text = plt.Axes.text

    def record(self, x, y, s, *args, **kwargs):
        texts.append(s)
        return real_text(self, x, y, s, *args, **kwargs)

    monkeypatch.setattr(plt.Axes, "text", record)
    cm = np.array([[8, 2], [1, 3]])
    _png(plotting.plot_confusion_matrix(cm, ["no DR", "DR"], tmp_path / "cm.png"))
    assert texts == ["8", "2", "1", "3"]
    texts.clear()
    _png(plotting.plot_confusion_matrix(cm, ["no DR", "DR"], tmp_path / "n.png", normalize=True))
    assert texts == ["0.80", "0.20", "0.25", "0.75"]  # rows sum to one: per-class recall


def test_bars(tmp_path):
    _png(plotting.plot_bars({"recall": [0.9, 0.2], "precision": [0.8, 0.5]}, ["0", "1"],
                            tmp_path / "bars.png"))  # fmt: skip


def test_image_grid_figure_has_one_titled_axis_per_image():
    images = [torch.zeros(3, 8, 8), torch.ones(1, 8, 8), np.full((8, 8, 3), 255, np.uint8)]
    fig = plotting.image_grid_figure(images, titles=["a", "b", "c"], ncol=2)
    shown = [ax for ax in fig.axes if ax.images]
    assert [ax.get_title() for ax in shown] == ["a", "b", "c"] and len(fig.axes) == 4
    plt.close(fig)


def test_counts_are_coloured_by_their_share_of_the_row():
    # 1,000 photos of grade 0 and 4 of grade 1: coloured by count, the grade-1 row would be white.
    cm = np.array([[990, 10], [1, 3]])
    fig = plotting.confusion_figure(cm, ["0", "1"])
    colours = fig.axes[0].images[0].get_array()
    np.testing.assert_allclose(colours, [[0.99, 0.01], [0.25, 0.75]])
    plt.close(fig)


@pytest.fixture
def figures(monkeypatch):
    """The figures the plotting functions save, kept open for the test to read."""
    kept = []
    save = plotting._save

    def keep(fig, path):
        kept.append(fig)
        fig.savefig(path)
        return path

    monkeypatch.setattr(plotting, "_save", keep)
    yield kept
    plt.close("all")
    monkeypatch.setattr(plotting, "_save", save)


def test_panels_have_y_labels_and_mark_the_kept_epoch(tmp_path, figures):
    panels = {"loss": {"train": [1.0, 0.6, 0.5]}, "qwk": {"val": [0.2, 0.5, 0.4]}}
    plotting.plot_metric_panels(
        panels, tmp_path / "p.png", ylabels={"qwk": "quadratic weighted kappa"}, kept=2
    )
    axes = figures[0].axes
    assert [ax.get_ylabel() for ax in axes] == ["loss", "quadratic weighted kappa"]
    for ax in axes:
        (marker,) = [line for line in ax.lines if line.get_label().startswith("kept model")]
        assert list(marker.get_xdata()) == [2, 2]
    # one legend for the figure, each label once: per panel, legends hide the curves
    (legend,) = figures[0].legends
    assert [t.get_text() for t in legend.get_texts()] == ["train", "kept model (epoch 2)", "val"]
    assert all(ax.get_legend() is None for ax in axes)


def test_bars_say_why_a_group_is_empty(tmp_path, figures):
    plotting.plot_bars(
        {"precision": [0.9, float("nan")], "recall": [1.0, 0.0]}, ["0", "1"], tmp_path / "b.png",
        notes={1: "never predicted"},
    )  # fmt: skip
    (text,) = figures[0].axes[0].texts
    assert text.get_text() == "never predicted" and text.get_position()[0] == 1
