"""Stratified train / val / test split, by patient where patient ids exist, saved as CSV.

    from retinopathy.data.splits import make_split, save_split, load_split
    split = make_split(records, seed=0)            # DataFrame: id, split, grade, patient, eye, path
    save_split(split, run_dir / "split.csv")       # evaluation reloads exactly this split

Default shares as in the report: 25% test, then 25% of the rest for validation (56/19/25).
Both eyes of a patient always land on the same side (EyePACS: 87% of patients have the same
grade in both eyes, so an image-level split leaks). Stratified by the grades each patient
brings (see ``_holdout``); seconds for EyePACS' 35,126 photos. Every class with at least three
groups (patients, or photos without a patient id) gets one on each side, even where its share
rounds to none (4 photos of a class: 2/1/1); a split is refused, naming the class, only where
none exists.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from itertools import combinations
from pathlib import Path

import numpy as np
import pandas as pd

from retinopathy.data.sources import Record
from retinopathy.tasks import Task, get_task
from shared.atomic import atomic_path
from shared.errors import UserError

SPLITS = ("train", "val", "test")
COLUMNS = ["id", "split", "grade", "patient", "eye", "path"]
SOURCE = "source"  # the column naming each photo's dataset, in a run on several


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
    if n_groups == 0:
        return np.zeros(0, bool)
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


def check_shares(test_size: float, val_size: float) -> None:
    """UserError unless both shares lie strictly between 0 and 1."""
    for flag, share in (("--test-size", test_size), ("--val-size", val_size)):
        if not 0 < share < 1:
            raise UserError(f"{flag} must lie strictly between 0 and 1, not {share}")


def make_split(
    records: Sequence[Record],
    *,
    test_size: float = 0.25,
    val_size: float = 0.25,
    seed: int = 0,
    task: Task | None = None,
) -> pd.DataFrame:
    """Assign every record to train / val / test, each class of ``task`` (default: the five
    grades) on every side; raises UserError, naming the class, only where that is impossible."""
    check_shares(test_size, val_size)
    task = task or get_task("grade5")
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
    side = np.where(is_test, 2, np.where(is_val, 1, 0))
    codes, _ = pd.factorize(groups)
    side = _cover_every_side(codes, task.map_grades(labels), side, task.class_names)
    df.insert(1, "split", np.asarray(SPLITS)[side])
    return df


# -- every class on every side ---------------------------------------------------------------

ANY = -1  # a class every group holds: each side gets at least one group
Kind = frozenset[int]  # the classes a group holds (with ANY): groups of one kind are alike here


def _cover_every_side(
    codes: np.ndarray, classes: np.ndarray, side: np.ndarray, names: Sequence[str]
) -> np.ndarray:
    """``side`` (per record: 0 train, 1 val, 2 test) with whole groups moved so that every class
    has a group on every side. The proportional split already manages this unless a class has
    only a few groups; then only the groups the plan (:func:`_plan`) needs are moved."""
    group_side = np.zeros(codes.max() + 1, np.int64)
    group_side[codes] = side
    held: list[set[int]] = [{ANY} for _ in group_side]
    for g, c in zip(codes.tolist(), classes.tolist(), strict=True):
        held[g].add(c)
    members: dict[Kind, list[int]] = {}
    for g, kind in enumerate(held):
        members.setdefault(frozenset(kind), []).append(g)
    wanted = [ANY, *range(len(names))]
    current = {kind: {int(group_side[g]) for g in gs} for kind, gs in members.items()}
    if not _uncovered(current, wanted):
        return side
    for c in wanted:
        n = sum(len(gs) for kind, gs in members.items() if c in kind)
        if n < len(SPLITS):
            raise UserError(_too_few(c, n, names))
    plan = _plan({kind: len(gs) for kind, gs in members.items()}, current, wanted)
    if plan is None:
        c = _uncovered(current, wanted)[0][1]
        raise UserError(
            f"class {names[c]!r}: its patients also hold the only photos of other classes, so "
            "no split puts it on every side: add photos or use a coarser task"
        )
    for kind, sides in plan.items():
        _move_into(members[kind], group_side, sides)
    return group_side[codes]


def _too_few(c: int, n: int, names: Sequence[str]) -> str:
    if c == ANY:
        return f"only {n} patients/photos and train, val and test need one each"
    has = f"has {n} patients/photos and" if n else "has no photo:"
    return (
        f"class {names[c]!r} {has} train, val and test need one each: "
        "add photos or use a coarser task"
    )


def _uncovered(reach: Mapping[Kind, set[int]], wanted: Sequence[int]) -> list:
    """``(kinds, class, side)`` of each class missing from a side, the scarcest class first."""
    out = []
    for c in wanted:
        mine = [kind for kind in reach if c in kind]
        reached = set().union(*(reach[kind] for kind in mine))
        out += [(len(mine), c, s) for s in range(len(SPLITS)) if s not in reached]
    return sorted(out)


def _plan(
    counts: Mapping[Kind, int], current: Mapping[Kind, set[int]], wanted: Sequence[int]
) -> dict[Kind, set[int]] | None:
    """The sides each kind of group must reach, or None if no choice covers every class on
    every side.

    A kind with three groups or more can reach all three sides; one with one or two groups
    reaches that many, and which is searched (depth first, the sides it is on now tried
    first). Kinds are few (a patient holds at most two grades), so the search is small.
    """
    fixed = {kind: {0, 1, 2} for kind, n in counts.items() if n >= len(SPLITS)}
    few = {kind: n for kind, n in counts.items() if n < len(SPLITS)}

    def search(chosen: dict[Kind, set[int]]) -> dict[Kind, set[int]] | None:
        reach = {**fixed, **chosen}
        missing = _uncovered(reach, wanted)
        if not missing:
            return reach
        _, c, s = missing[0]
        for kind in (k for k in few if c in k and k not in chosen):
            for sides in _choices(few[kind], s, current[kind]):
                found = search({**chosen, kind: sides})
                if found is not None:
                    return found
        return None

    plan = search({})
    if plan is None:
        return None
    # A side a kind is on already costs no move; drop each other one that coverage can spare.
    for kind in list(plan):
        for s in sorted(plan[kind] - current[kind]):
            trial = {**plan, kind: plan[kind] - {s}}
            if not _uncovered(trial, wanted):
                plan = trial
    return plan


def _choices(n: int, side: int, now: set[int]) -> list[set[int]]:
    """The sets of ``n`` sides (one or two) that include ``side``; closest to ``now`` first."""
    options = [set(c) for c in combinations(range(len(SPLITS)), n) if side in c]
    return sorted(options, key=lambda o: (-len(o & now), sorted(o)))


def _move_into(groups: list[int], group_side: np.ndarray, sides: set[int]) -> None:
    """Move groups of one kind until each of ``sides`` holds one: from a side the kind need not
    reach, else from the side holding most of them, never the last one on a side it needs."""
    for s in sorted(sides):
        if any(group_side[g] == s for g in groups):
            continue
        counts = np.bincount(group_side[groups], minlength=len(SPLITS))
        spare = [g for g in groups if group_side[g] not in sides or counts[group_side[g]] > 1]
        donor = max(spare, key=lambda g: (group_side[g] not in sides, counts[group_side[g]]))
        group_side[donor] = s


def save_split(df: pd.DataFrame, path: str | Path) -> Path:
    """Write the split as CSV (atomic)."""
    columns = COLUMNS + ([SOURCE] if SOURCE in df.columns else [])
    with atomic_path(path) as tmp:
        df[columns].to_csv(tmp, index=False)
    return Path(path)


def load_split(path: str | Path) -> pd.DataFrame:
    """Read a split written by :func:`save_split`."""
    path = Path(path)
    try:
        text = {"id": str, "patient": str, "eye": str, "path": str, SOURCE: str}
        df = pd.read_csv(path, dtype=text)
    except FileNotFoundError:
        raise UserError(f"{path}: split file not found") from None
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise UserError(f"{path}: not a split file ({exc})") from None
    missing = [c for c in COLUMNS if c not in df.columns]
    if missing or not set(df["split"]) <= set(SPLITS):
        raise UserError(f"{path}: not a split file (columns {', '.join(missing) or 'split'} wrong)")
    df["patient"] = df["patient"].astype(object).where(df["patient"].notna(), None)
    df["eye"] = df["eye"].astype(object).where(df["eye"].notna(), None)
    return df[COLUMNS + ([SOURCE] if SOURCE in df.columns else [])]


def split_ids(df: pd.DataFrame, split: str) -> list[str]:
    """Record ids on one side, in file order (feed to ``PreparedSet.indices``)."""
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}")
    return df.loc[df["split"] == split, "id"].tolist()
