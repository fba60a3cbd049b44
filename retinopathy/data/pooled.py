"""Several datasets as one: their names, and the pool of their prepared photos a run trains on.

    paths = source_paths("~/data/eyepacs,~/data/aptos")   # absolute paths, one per dataset
    names = source_names(paths)                            # ["eyepacs", "aptos"]
    prepared = pool([eyepacs_prepared, aptos_prepared], names)

Each dataset is prepared into the cache on its own, as it would be alone. The pool's records are
those of every dataset with the dataset's name in front of each photo's id and patient
(``aptos/000c1434d8d7``), so ids stay unique and no patient spans two datasets; ``sources``
says which dataset each record is from. The pool's own folder in the cache holds only what is
about the union: the problems of every dataset (``problems.csv``) and the channel statistics of
its training photos (``stats/``).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

from retinopathy.data.prepared import PROBLEMS, PreparedSet, short_hash, write_problems
from retinopathy.data.sources import Problem
from shared.errors import UserError

SYNTHETIC = "synthetic"  # DATA naming the built-in sample set instead of a dataset
SOURCE_SEPARATOR = ","  # DATA=a,b: one model trained on the union of the datasets


def source_paths(data: str) -> list[str]:
    """``data`` as absolute dataset paths (the sample set's name kept as it is); a path that
    exists is one dataset even where its name holds a comma."""
    if data == SYNTHETIC:
        return [data]
    whole = Path(data).expanduser()
    parts = [data] if whole.exists() else data.split(SOURCE_SEPARATOR)
    parts = [p.strip() for p in parts if p.strip()]
    if not parts:
        raise UserError(f"DATA {data!r} names no dataset")
    return [p if p == SYNTHETIC else str(Path(p).expanduser().resolve()) for p in parts]


def dataset_name(data: str | Path) -> str:
    """A dataset's name: its folder's (a CSV file: the folder holding it), with anything but
    letters, digits, ``.``, ``_`` and ``-`` made ``-``."""
    if str(data) == SYNTHETIC:
        return SYNTHETIC
    path = Path(data).expanduser().absolute()
    folder = path.parent if path.is_file() else path
    return safe_name(folder.name) or "dataset"


def safe_name(name: str) -> str:
    """``name`` with every run of characters outside ``[A-Za-z0-9._-]`` made one ``-``."""
    return re.sub(r"[^A-Za-z0-9._-]+", "-", name).strip(".-")


def source_names(paths: Sequence[str]) -> list[str]:
    """One distinct name per dataset: its :func:`dataset_name`, numbered where two share one."""
    names: list[str] = []
    for path in paths:
        name, k = dataset_name(path), 2
        base = name
        while name in names:
            name, k = f"{base}-{k}", k + 1
        names.append(name)
    return names


def pool(sets: Sequence[PreparedSet], names: Sequence[str]) -> PreparedSet:
    """The prepared photos of every dataset as one set (see the module's docstring)."""
    first = sets[0]
    folder = first.folder.parent.parent / (
        "pooled-" + short_hash("\n".join(str(s.folder) for s in sets))
    )
    out = PreparedSet(folder / first.folder.name, first.size, first.mode, [], [])
    for prepared, name in zip(sets, names, strict=True):
        for r in prepared.records:
            patient = None if r.patient is None else f"{name}/{r.patient}"
            out.records.append(replace(r, id=f"{name}/{r.id}", patient=patient))
        out.files += prepared.files
        out.problems += [
            Problem(p.path, f"{name}/{p.id}", p.action, p.reason) for p in prepared.problems
        ]
        out.sources += [name] * len(prepared)
        out._sums += prepared._sums
        out.processed += prepared.processed
        out.reused += prepared.reused
    out.folder.mkdir(parents=True, exist_ok=True)
    write_problems(out.folder / PROBLEMS, out.problems)
    return out
