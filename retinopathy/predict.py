"""Grade new fundus photos with a trained run: a table of id, grade and class probabilities.

    import retinopathy
    df = retinopathy.grade("runs/retinopathy/<run>", "new_photos/")       # a DataFrame
    from retinopathy.predict import predict
    predict(PredictConfig(run, images, tta=True))                        # the same, as a CSV

Photos are preprocessed exactly as the run's training photos were (crop or Graham, same size,
same normalisation). A folder's unreadable files are skipped and listed; a single unreadable
file is an error. ``fuse_eyes`` blends the two eyes of EyePACS-style pairs
(``<patient>_left`` / ``<patient>_right``) with the weight chosen on the run's validation split.
Grades come as the run's evaluation chose them (its ``thresholds.json``: a regress or ordinal
head's tuned cut points, the referable task's operating point; :mod:`retinopathy.grading`);
``thresholds`` replaces the cut points.

The photos are graded ``batch_size`` at a time, read as each batch is graded, so a folder of any
size fits in memory. Under ``torchrun`` each rank grades its share of those batches and the
results are gathered back in the photos' order: rank 0 writes the one CSV, the same as one
process writes.
"""

from __future__ import annotations

import re
import time
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from retinopathy import fusion
from retinopathy.config import PredictConfig
from retinopathy.config_checks import cut_points_option
from retinopathy.data.augment import eval_transform
from retinopathy.data.preprocess import BadImage, first_reasons, load_and_preprocess
from retinopathy.evaluate import fusion_alpha
from retinopathy.explain import explain_predictions
from retinopathy.grading import scored, stored_grading, with_cut_points
from retinopathy.models import KeptModel, load_run_model, predict_outputs
from retinopathy.predictions import PROVENANCE_COLUMN, prediction_frame, write_predictions
from retinopathy.provenance import Provenance, run_provenance
from shared.device import pick_device
from shared.distributed import (
    all_gather_object,
    barrier,
    batch_ranges,
    in_input_order,
    init_distributed,
    is_main_process,
    my_share,
    on_main,
)
from shared.errors import UserError
from shared.image_files import list_images
from shared.precision import autocast
from shared.runs import progress
from shared.threads import cpu_threads

EYE_PAIR = re.compile(r"^(?P<patient>.+)_(?P<eye>left|right)$", re.IGNORECASE)
UNVALIDATED_ALPHA = 0.5  # a run never evaluated: each eye counts as much as its twin


@dataclass
class Graded:
    """The graded photos (one row each), the unreadable ones (``"path: reason"``), the classes."""

    frame: pd.DataFrame
    unreadable: list[str]
    class_names: tuple[str, ...]


def grade(
    run_dir: str | Path, images: str | Path | Sequence[str | Path], **options: Any
) -> pd.DataFrame:
    """Grade ``images`` (a photo, a folder, or a list of paths) with the run in ``run_dir``.

    Returns a pandas DataFrame, one row per photo: ``id``, ``grade`` (the predicted class
    index), ``class`` (its name), ``score`` (regress and ordinal heads), ``p_0`` ... ``p_<k>``
    and ``path``. ``options``: the fields of :class:`~retinopathy.config.PredictConfig`
    (``tta``, ``fuse_eyes``, ``batch_size``, ``device``, ``threads``, ``precision``,
    ``thresholds``). Unreadable photos in a folder or list are skipped with a warning; a model of
    drawn eyes or random weights warns that its grades of real photos mean nothing clinically.
    """
    graded = grade_photos(PredictConfig(Path(run_dir), _as_paths(images), **options))
    _warn_of(run_provenance(run_dir))
    if graded.unreadable:
        warnings.warn(
            f"{len(graded.unreadable)} unreadable photo(s) skipped: {graded.unreadable[0]}",
            stacklevel=2,
        )
    return graded.frame


def predict(config: PredictConfig) -> Path:
    """Grade ``config.images`` into a CSV and print a summary; returns the CSV's path.

    The CSV's last column, ``model``, says on every row what the model was trained on and from
    which weights (:mod:`retinopathy.provenance`), so the grades never travel without it; a model
    of drawn eyes or random weights also gets a warning (the command's ``warning:`` line on
    stderr), after the summary.
    """
    graded = grade_photos(config)
    out = config.out or on_main(_default_out, config)  # one clock names the file
    if is_main_process():
        origin = run_provenance(config.run)
        if config.explain:  # a heat map per photo beside the CSV, and a column naming it
            graded.frame = explain_predictions(
                config.run, graded.frame, out, config.explain, config.device
            )
        write_predictions(out, graded.frame.assign(**{PROVENANCE_COLUMN: origin.sentence}))
        _print_summary(graded, out)
        _warn_of(origin)
    barrier()  # on every rank, predict returns once the CSV is there
    return out


def _warn_of(origin: Provenance) -> None:
    """The grades' one caveat, after them: a model of drawn eyes or random weights."""
    if origin.caveat:
        warnings.warn(origin.caveat, stacklevel=3)


def _print_summary(graded: Graded, out: Path) -> None:
    counts = graded.frame["class"].value_counts()
    print(f"{len(graded.frame)} photos graded -> {out}")
    print("  " + ", ".join(f"{n}: {counts.get(n, 0)}" for n in graded.class_names))
    if graded.unreadable:
        print(f"{len(graded.unreadable)} unreadable, skipped:")
        for line in graded.unreadable:
            print(f"  {line}")


def grade_photos(config: PredictConfig) -> Graded:
    """The photos graded by the run's kept model, preprocessed as its training photos were."""
    device = pick_device(config.device)
    init_distributed(device)
    kept = load_run_model(config.run)
    run = kept.config
    cut_points = cut_points_option(config.thresholds, run.grading)  # checked before any work
    grading = stored_grading(
        kept.checkpoint.state, run.grading, run.head, run.thresholds, kept.checkpoint.path
    )
    grading = with_cut_points(grading, cut_points)
    files = find_images(config.images)
    batches = [files[b.start : b.stop] for b in batch_ranges(len(files), config.batch_size)]
    mine = my_share(batches)
    bar = progress(total=sum(map(len, mine)), desc="predict", unit="photo", leave=False)
    graded = []
    with cpu_threads(config.threads):
        dtype = kept.compute_dtype(config.precision, device)
        for paths in mine:
            with autocast(device, dtype):
                graded.append(_grade_batch(kept, paths, device, config.tta))
            bar.update(len(paths))
    bar.close()
    results = in_input_order(all_gather_object(graded))
    good = [p for paths, _, _ in results for p in paths]
    bad = [line for _, _, lines in results for line in lines]
    if isinstance(config.images, Path) and config.images.is_file() and bad:
        raise UserError(f"cannot read {bad[0]}")
    if not good:
        raise UserError(f"none of the {len(files)} photos could be read: {first_reasons(bad)}")
    probs = np.concatenate([p for _, (p, _), _ in results])
    scores = np.concatenate([s for _, (_, s), _ in results])
    ids = [p.stem for p in good]
    if config.fuse_eyes:
        alpha = fusion_alpha(config.run)
        alpha = UNVALIDATED_ALPHA if alpha is None else alpha
        probs = fusion.fuse(probs, _patients(ids), alpha)
        scores = fusion.fuse(scores, _patients(ids), alpha)
    frame = prediction_frame(
        run.grading, ids, probs, paths=good, grades=grading.grades(probs, scores),
        scores=scores if scored(run.head) else None,
    )  # fmt: skip
    return Graded(frame, bad, run.grading.class_names)


def find_images(images: Path | Sequence[Path]) -> list[Path]:
    """The photos to grade: a file itself, a folder's images (and its sub-folders'), or both."""
    if not isinstance(images, Path):
        return [p for item in images for p in find_images(Path(item))]
    if images.is_file():
        return [images]
    if images.is_dir():
        return list_images(images, recursive=True)
    raise UserError(f"{images} does not exist")


def _grade_batch(
    kept: KeptModel, paths: list[Path], device: torch.device, tta: bool
) -> tuple[list[Path], tuple[np.ndarray, np.ndarray], list[str]]:
    """One batch of photos: the readable ones, their class probabilities and head scores, the
    unreadable ones."""
    run = kept.config
    good, photos, bad = load_photos(paths, run.data.image_size, run.data.mode)
    if not photos:
        return good, (np.zeros((0, run.num_classes), np.float32), np.zeros(0, np.float32)), bad
    transform = eval_transform(run.data.image_size, run.mean, run.std)
    images = torch.stack([transform(torch.from_numpy(p).permute(2, 0, 1)) for p in photos])
    batch = [(images, torch.full((len(photos),), -1))]  # no labels
    probs, scores, _ = predict_outputs(kept.model, kept.head, batch, device, tta=tta)
    return good, (probs.numpy(), scores.numpy()), bad


def load_photos(paths: list[Path], size: int, mode: str) -> tuple[list[Path], list, list[str]]:
    """Preprocessed photos; unreadable ones are collected as ``"path: reason"`` lines."""
    good, images, bad = [], [], []
    for path in paths:
        try:
            images.append(load_and_preprocess(path, size, mode))
            good.append(path)
        except (BadImage, OSError) as exc:
            bad.append(f"{path}: {exc}")
    return good, images, bad


def _as_paths(images: str | Path | Sequence[str | Path]) -> Path | list[Path]:
    if isinstance(images, (str, Path)):
        return Path(images)
    return [Path(p) for p in images]


def _patients(ids: list[str]) -> list[str | None]:
    return [m["patient"] if (m := EYE_PAIR.match(i)) else None for i in ids]


def _default_out(config: PredictConfig) -> Path:
    name = config.images.stem if isinstance(config.images, Path) else "photos"
    stamp = time.strftime("%Y%m%d-%H%M%S")
    return Path(config.run) / "predictions" / f"{name or 'photos'}-{stamp}.csv"
