"""Stratified train / val / test split, by patient where patient ids exist, saved as CSV.

    from retinopathy.data.splits import make_split, save_split, load_split
    split = make_split(records, seed=0)            # DataFrame: id, split, grade, patient, eye, path
    save_split(split, run_dir / "split.csv")       # evaluation reloads exactly this split

Default shares as in the report: 25% test, then 25% of the rest for validation (56/19/25).
Both eyes of a patient always land on the same side (EyePACS: 87% of patients have the same
grade in both eyes, so an image-level split leaks). Stratified by the grades each patient
brings (see ``_holdout``); seconds for EyePACS' 35,126 photos.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from retinopathy.data.sources import Record
from retinopathy.tasks import GRADES
from shared.atomic import atomic_path
from shared.errors import UserError

SPLITS = ("train", "val", "test")
COLUMNS = ["id", "split", "grade", "patient", "eye", "path"]


def records_frame(records: Sequence[Record]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "id": [r.id for r in records],
            "grade": [r.grade for r in records],
            "patient": [r.patient for r in records],
            "eye": [r.eye for r in records],
            "path": [str(r.path) for r in records],
        }
    )


def _holdout(labels: np.ndarray, groups: np.ndarray, share: float, seed: int) -> np.ndarray:
    """Boolean mask of ``share`` of the groups, whole groups only, stratified by class make-up.

    Groups with the same sorted labels (a patient with grades (0, 2), a single grade-4
    photo...) form a stratum; each stratum, shuffled, gives up its share, with the rounding
    carried from stratum to stratum so the total share is exact. Every class then lands within
    one group of its share (scikit-learn's StratifiedGroupKFold gets close too, but takes
    minutes on EyePACS' 17,500 patients).
    """
    codes, uniques = pd.factorize(groups)
    n_groups = len(uniques)
    if n_groups * share < 1:
        raise UserError(f"only {n_groups} patients/photos: too few to hold out {share:.0%}")
    base = np.bincount(codes).max() + 1
    signature = np.zeros(n_groups, np.int64)  # the class counts of a group, as one number
    for c in np.unique(labels):
        signature = signature * base + np.bincount(codes[labels == c], minlength=n_groups)
    rng = np.random.default_rng(seed)
    order = rng.permutation(n_groups)
    order = order[np.argsort(signature[order], kind="stable")]
    # Systematic sampling along the sorted order: group k is held out where floor(k * share)
    # steps up, so each stratum (a contiguous run) gives exactly its share, give or take one.
    k = np.arange(n_groups) + rng.uniform()
    held = np.zeros(n_groups, bool)
    held[order[np.floor((k + 1) * share) > np.floor(k * share)]] = True
    return held[codes]


def make_split(
    records: Sequence[Record],
    *,
    test_size: float = 0.25,
    val_size: float = 0.25,
    seed: int = 0,
    classes: Iterable[int] = GRADES,
) -> pd.DataFrame:
    """Assign every record to train / val / test; raises UserError if a class misses a split."""
    if not (0 < test_size < 1 and 0 < val_size < 1):
        raise UserError("test and validation shares must be between 0 and 1")
    df = records_frame(records)
    if df["id"].duplicated().any():
        raise UserError(f"duplicate record id {df['id'][df['id'].duplicated()].iloc[0]!r}")
    groups = np.where(
        df["patient"].notna(), "patient:" + df["patient"].astype(str), "photo:" + df["id"]
    )
    labels = df["grade"].to_numpy()
    is_test = _holdout(labels, groups, test_size, seed)
    is_val = np.zeros(len(df), bool)
    is_val[~is_test] = _holdout(labels[~is_test], groups[~is_test], val_size, seed + 1)
    df.insert(1, "split", np.where(is_test, "test", np.where(is_val, "val", "train")))
    require_all_classes(df, classes)
    return df


def require_all_classes(
    df: pd.DataFrame, classes: Iterable[int] = GRADES, column: str = "grade"
) -> None:
    """UserError naming the first class with no example in some split."""
    overall = df[column].value_counts()
    for split in SPLITS:
        present = set(df.loc[df["split"] == split, column])
        for c in classes:
            if c not in present:
                raise UserError(
                    f"class {c} has no photo in the {split} split ({overall.get(c, 0)} overall); "
                    f"every class needs examples on every side: add photos or use a coarser task"
                )


def save_split(df: pd.DataFrame, path: str | Path) -> Path:
    """Write the split as CSV (atomic)."""
    with atomic_path(path) as tmp:
        df[COLUMNS].to_csv(tmp, index=False)
    return Path(path)


def load_split(path: str | Path) -> pd.DataFrame:
    """Read a split written by :func:`save_split`."""
    path = Path(path)
    try:
        df = pd.read_csv(path, dtype={"id": str, "patient": str, "eye": str, "path": str})
    except FileNotFoundError:
        raise UserError(f"{path}: split file not found") from None
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise UserError(f"{path}: not a split file ({exc})") from None
    missing = [c for c in COLUMNS if c not in df.columns]
    if missing or not set(df["split"]) <= set(SPLITS):
        raise UserError(f"{path}: not a split file (columns {', '.join(missing) or 'split'} wrong)")
    df["patient"] = df["patient"].astype(object).where(df["patient"].notna(), None)
    df["eye"] = df["eye"].astype(object).where(df["eye"].notna(), None)
    return df[COLUMNS]


def split_ids(df: pd.DataFrame, split: str) -> list[str]:
    """Record ids on one side, in file order (feed to ``PreparedSet.indices``)."""
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}")
    return df.loc[df["split"] == split, "id"].tolist()
