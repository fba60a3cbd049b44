"""Figures people would rather look at than read: curves, confusion matrices, bars.

Each ``plot_*`` function writes a PNG and returns its path; the ``*_figure`` ones return the
figure (for TensorBoard). matplotlib runs on the Agg backend, so no display is needed. Sheets of
images on disk are :mod:`shared.contact_sheet`'s.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.ticker import MaxNLocator

from shared.atomic import atomic_path
from shared.contact_sheet import to_hwc


def curve_panels(rows: Sequence[Mapping[str, Any]]) -> dict[str, dict[str, list[float]]]:
    """``{"loss": {"train_loss": [...], "val_loss": [...]}, "acc": {...}, "lr": {...}}``."""
    panels: dict[str, dict[str, list[float]]] = {}
    keys = list(dict.fromkeys(k for row in rows for k in row))
    for key in keys:
        for prefix in ("train_", "val_"):
            if key.startswith(prefix):
                panels.setdefault(key[len(prefix) :], {})[key] = []
    if "lr" in keys:
        panels["lr"] = {"lr": []}
    for series in panels.values():
        for key, values in series.items():
            values.extend(float("nan") if r.get(key) is None else float(r[key]) for r in rows)
    loss_first = sorted(panels, key=lambda name: name != "loss")
    return {name: panels[name] for name in loss_first}


def _save(fig: plt.Figure, path: str | Path) -> Path:
    try:
        with atomic_path(path) as tmp:
            fig.savefig(tmp, dpi=120, bbox_inches="tight")
    finally:
        plt.close(fig)
    return Path(path)


def plot_curves(
    series: Mapping[str, Sequence[float]],
    path: str | Path,
    *,
    x: Sequence[float] | None = None,
    xlabel: str = "epoch",
    ylabel: str = "",
    title: str = "",
    logy: bool = False,
) -> Path:
    """One line per named series (``{"train_loss": [...], "val_loss": [...]}``) on shared axes."""
    fig, ax = plt.subplots(figsize=(6, 4))
    for name, values in series.items():
        values = np.asarray(values, dtype=float)
        xs = np.arange(1, len(values) + 1) if x is None else np.asarray(x)[: len(values)]
        ax.plot(xs, values, marker="o" if len(values) <= 30 else None, ms=3, label=name)
    ax.set(xlabel=xlabel, ylabel=ylabel, title=title)
    if logy:
        ax.set_yscale("log")
    ax.grid(alpha=0.3)
    if series:
        ax.legend()
    return _save(fig, path)


def plot_metric_panels(
    panels: Mapping[str, Mapping[str, Sequence[float]]],
    path: str | Path,
    *,
    xlabel: str = "epoch",
    ylabels: Mapping[str, str] | None = None,
    kept: int | None = None,
    title: str = "",
) -> Path:
    """Several curve panels side by side, e.g. ``{"loss": {...}, "accuracy": {...}}``.

    ``ylabels``: each panel's y label by panel name (default: the name); ``kept``: the epoch
    (1 = the first) whose model the run kept, marked on every panel; ``title``: over them all."""
    fig, axes = plt.subplots(1, len(panels), figsize=(5 * len(panels), 3.8), squeeze=False)
    legend: dict[str, Any] = {}  # one legend for every panel: per panel they hide the curves
    for ax, (panel, series) in zip(axes[0], panels.items(), strict=True):
        for name, values in series.items():
            xs = np.arange(1, len(values) + 1)
            ax.plot(xs, values, marker="o" if len(values) <= 30 else None, ms=3, label=name)
        if kept is not None:
            ax.axvline(kept, color="0.35", ls=":", lw=1.2, label=f"kept model (epoch {kept})")
        ax.set(title=panel, xlabel=xlabel, ylabel=(ylabels or {}).get(panel, panel))
        ax.grid(alpha=0.3)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))  # epochs are whole
        for handle, label in zip(*ax.get_legend_handles_labels(), strict=True):
            legend.setdefault(label, handle)
    fig.legend(list(legend.values()), list(legend), loc="lower center", ncol=min(len(legend), 4),
               frameon=False)  # fmt: skip
    if title:
        fig.suptitle(title)
    rows = math.ceil(len(legend) / 4)
    fig.tight_layout(rect=(0, 0.06 * rows + 0.02, 1, 0.95 if title else 1))
    return _save(fig, path)


def confusion_figure(
    matrix: np.ndarray | Sequence[Sequence[float]],
    class_names: Sequence[str],
    *,
    normalize: bool = False,
    title: str = "",
) -> plt.Figure:
    """Heat map with true class on rows and predicted class on columns, numbers in each cell.

    ``normalize=True`` divides each row by its total, so the diagonal reads as per-class recall.
    Counts are coloured by their share of the row too: coloured by count, the largest cell would
    leave every cell of a rare grade white.
    """
    counts = np.asarray(matrix, dtype=float)
    totals = counts.sum(axis=1, keepdims=True)
    share = np.divide(counts, totals, out=np.zeros_like(counts), where=totals > 0)
    shown = share if normalize else counts
    n = len(class_names)
    fig, ax = plt.subplots(figsize=(1.1 * n + 2.2, 1.0 * n + 1.6))
    im = ax.imshow(share, cmap="Blues", vmin=0, vmax=1)
    bar = fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04)
    bar.set_label("share of the true class")
    ax.set(
        xticks=range(n),
        yticks=range(n),
        xticklabels=class_names,
        yticklabels=class_names,
        xlabel="predicted",
        ylabel="true",
        title=title or ("confusion matrix (row-normalised)" if normalize else "confusion matrix"),
    )
    for i in range(n):
        for j in range(n):
            text = f"{shown[i, j]:.2f}" if normalize else f"{shown[i, j]:.0f}"
            colour = "white" if share[i, j] > 0.5 else "black"
            ax.text(j, i, text, ha="center", va="center", color=colour, fontsize=9)
    return fig


def plot_confusion_matrix(
    matrix: np.ndarray | Sequence[Sequence[float]],
    class_names: Sequence[str],
    path: str | Path,
    *,
    normalize: bool = False,
    title: str = "",
) -> Path:
    """:func:`confusion_figure`, written to ``path``."""
    return _save(confusion_figure(matrix, class_names, normalize=normalize, title=title), path)


def plot_bars(
    groups: Mapping[str, Sequence[float]],
    categories: Sequence[str],
    path: str | Path,
    *,
    ylabel: str = "",
    title: str = "",
    ylim: tuple[float, float] | None = (0, 1),
    notes: Mapping[int, str] | None = None,
) -> Path:
    """Grouped bars: one group per category, one bar per series (e.g. precision/recall/F1).

    ``notes``: a short text per category written where its bars would be when it has none to
    show (a value that is NaN: a class never predicted has no precision), so no group is an
    unexplained gap."""
    fig, ax = plt.subplots(figsize=(max(5, 1.4 * len(categories) + 2), 3.8))
    width = 0.8 / max(len(groups), 1)
    xs = np.arange(len(categories))
    for k, (name, values) in enumerate(groups.items()):
        ax.bar(xs + (k - (len(groups) - 1) / 2) * width, values, width, label=name)
    for x, note in (notes or {}).items():
        ax.text(x, 0.02, note, ha="center", va="bottom", rotation=90, fontsize=8, color="0.3")
    ax.set(xticks=xs, xticklabels=categories, ylabel=ylabel, title=title)
    if ylim is not None:
        ax.set_ylim(*ylim)
    ax.grid(axis="y", alpha=0.3)
    ax.legend()
    return _save(fig, path)


def image_grid_figure(
    images: Sequence[torch.Tensor | np.ndarray],
    *,
    titles: Sequence[str] | None = None,
    ncol: int | None = None,
    cell_inches: float = 3.0,
) -> plt.Figure:
    """Images side by side, each optionally titled, as a figure (for TensorBoard; a sheet on
    disk is :func:`shared.contact_sheet.save_image_grid`)."""
    n = len(images)
    ncol = ncol or n
    nrow = -(-n // ncol)
    fig, axes = plt.subplots(
        nrow, ncol, figsize=(cell_inches * ncol, cell_inches * nrow + 0.3), squeeze=False
    )
    for k, ax in enumerate(axes.flat):
        ax.axis("off")
        if k < n:
            img = to_hwc(images[k])
            ax.imshow(img, cmap="gray" if img.ndim == 2 else None)
            if titles is not None:
                ax.set_title(titles[k], fontsize=10)
    return fig
