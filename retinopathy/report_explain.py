"""The report's "Why this grade" section: a gallery of heat maps and the pointing game.

    from retinopathy.report_explain import explain_section
    text, game = explain_section(run_dir, kept, data, predictions)  # + plots/explain_gallery.png

**Gallery.** For each true class, up to :data:`GALLERY_EACH` test photos the model graded right
and as many it graded wrong (the first in the test split's order), each with its Grad-CAM map for
the predicted class (:mod:`retinopathy.explain`), as one figure in the run's ``plots/``. The maps
lie on the photos as the model saw them (the run's prepared set: cut to the eye, at the run's
size), so the gallery needs no original photo.

**Pointing game** (:mod:`retinopathy.pointing_game`). Test photos of grade >= 1 whose set recorded
where it drew the lesions (the sample set's ``masks/<stem>.png``; on ``referable``, whose class 0
holds grade 1 too, those of a referable class), at most :data:`MAX_POINTING`, each scored with
the map of its true class (the classic game: does the evidence for the right answer lie on the
disease?) against the rate of a uniformly random point. These maps are taken on the original
photos, at the masks' size; a photo moved away (with its mask) is left out.

Without captum the section is one line naming the install command; the rest of the report is
unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import pandas as pd

from retinopathy.data.preprocess import BadImage
from retinopathy.data.run_data import RunData
from retinopathy.data.sources import Record
from retinopathy.data.synthetic import mask_path, read_mask
from retinopathy.explain import INSTALL, CaptumMissing, Explainer, overlay
from retinopathy.models import KeptModel
from retinopathy.pointing_game import RADIUS_SHARE, PointingGame, pointing_game
from retinopathy.tasks import Task
from shared import plotting
from shared.errors import UserError
from shared.runs import RunPaths

GALLERY = "explain_gallery.png"
GALLERY_EACH = 2  # photos graded right, and as many graded wrong, per true class
MAX_POINTING = 200  # test photos the pointing game scores at most
PANEL_PX = 240  # the height a gallery photo is shown at


@dataclass(frozen=True)
class _Photo:
    record: Record
    index: int  # in the prepared set
    true: int  # the task's class indices
    predicted: int


def explain_section(
    run_dir: Path, kept: KeptModel, data: RunData, predictions: pd.DataFrame
) -> tuple[str, PointingGame | None]:
    """The section's markdown and the pointing game (None: no maps); writes the gallery figure
    into the run's ``plots/``."""
    title = "## Why this grade\n\n"
    try:
        explainer = Explainer(kept)
    except CaptumMissing:
        return f"{title}The gallery of heat maps needs captum: `{INSTALL}`.\n", None
    except UserError as exc:
        return f"{title}No heat maps: {exc}.\n", None
    photos = _test_photos(data, predictions)
    figure = _gallery(RunPaths(run_dir).plots / GALLERY, photos, explainer, data)
    game = _pointing(photos, explainer)
    lines = [
        title.rstrip(),
        "",
        "Grad-CAM maps (captum, on the backbone's last convolutional stage "
        f"`{explainer.layer_name}`) for the predicted class, a few test photos per true class, "
        "graded right and wrong:",
        "",
        f"![explain gallery]({figure.relative_to(run_dir).as_posix()})",
        "",
        _pointing_text(game),
        "",
    ]
    return "\n".join(lines), game


def _test_photos(data: RunData, predictions: pd.DataFrame) -> list[_Photo]:
    """The test photos in the split's order with their true and predicted classes."""
    if len(predictions) != len(data.test):
        raise ValueError("the predictions do not match the test split")
    pairs = zip(predictions["true"], predictions["grade"], strict=True)
    return [
        _Photo(data.test.record(i), data.test.indices[i], int(true), int(pred))
        for i, (true, pred) in enumerate(pairs)
    ]


def _gallery(path: Path, photos: list[_Photo], explainer: Explainer, data: RunData) -> Path:
    """The figure: a row per true class present, right then wrong, from the prepared photos."""
    rows = []
    for k in range(data.task.num_classes):
        cells: list = []
        for right in (True, False):
            chosen = [p for p in photos if p.true == k and (p.predicted == k) == right]
            shown = [
                (p, explainer.explain_seen(data.prepared.load(p.index), p.predicted))
                for p in chosen[:GALLERY_EACH]
            ]
            cells += shown + [None] * (GALLERY_EACH - len(shown))
        if any(cells):
            rows.append(cells)
    return _plot(path, rows, data.task)


def _plot(path: Path, rows: list[list], task: Task) -> Path:
    import matplotlib.pyplot as plt

    cols = 2 * GALLERY_EACH
    size = (2.3 * cols, 2.6 * len(rows) + 0.4)
    fig, axes = plt.subplots(len(rows), cols, figsize=size, squeeze=False, layout="constrained")
    for ax_row, cells in zip(axes, rows, strict=True):
        for ax, cell in zip(ax_row, cells, strict=True):
            ax.axis("off")
            if cell is None:
                continue
            photo, seen = cell
            ax.imshow(_small(overlay(seen.photo, seen.heat)))
            names = task.class_names
            ax.set_title(
                f"{photo.record.id}\ntrue {names[photo.true]}\npredicted {names[photo.predicted]}",
                fontsize=7,
                color="darkgreen" if photo.true == photo.predicted else "firebrick",
            )
    fig.suptitle("Grad-CAM for the predicted class: graded right (left), wrong (right)")
    return plotting._save(fig, path)


def _small(rgb: np.ndarray) -> np.ndarray:
    if rgb.shape[0] <= PANEL_PX:
        return rgb
    width = max(1, round(rgb.shape[1] * PANEL_PX / rgb.shape[0]))
    return cv2.resize(rgb, (width, PANEL_PX), interpolation=cv2.INTER_AREA)


def _pointing(photos: list[_Photo], explainer: Explainer) -> PointingGame:
    """The game over test photos of grade >= 1 (not in class 0) that have a lesion mask."""
    pairs = []
    for photo in photos:
        if photo.record.grade < 1 or photo.true == 0:
            continue
        mask = read_mask(mask_path(photo.record.path))
        if mask is None or not mask.any():
            continue
        try:
            heat = explainer.explain(photo.record.path, photo.true).heat
        except (BadImage, OSError):  # the photo moved away, its mask left behind
            continue
        if heat.shape == mask.shape:
            pairs.append((heat, mask))
        if len(pairs) == MAX_POINTING:
            break
    return pointing_game(pairs)


def _pointing_text(game: PointingGame) -> str:
    if game.photos == 0:
        return (
            "No lesion masks for these test photos: no pointing game (the built-in sample set "
            "records where it drew each lesion)."
        )
    return (
        f"{game.line()} (test photos of grade >= 1 with a lesion mask, each scored with the map "
        f"of its true class: a hit is a maximum within {RADIUS_SHARE:.0%} of the photo's height "
        "of a drawn lesion; the random point hits as often as the grown lesions cover the photo)."
    )
