"""The prepare job: preprocess every photo once, in parallel, into the cache training reads.

    .venv/bin/python -m retinopathy prepare ~/data/eyepacs --size 512     # the command

    from retinopathy.data.cache import prepare_records
    prepared = prepare_records(records, size=512, mode="crop")            # Python
    image = prepared.load(0)                                              # 512x512x3 uint8 RGB

Layout, under ``<cache>/retinopathy/<dataset folder>-<hash>/<mode>-<size>-<storage>-v<N>/``: the
prepared set (``items/``, ``index.csv``, ``stats/``: :mod:`retinopathy.data.prepared`) and the
job's own records:

- ``journal.jsonl`` one line per finished photo: ok (with its per-channel pixel sums) or rejected
  (with the reason). Written as results arrive, so a killed run resumes where it stopped.
- ``problems.csv`` every rejected or converted photo and why.

An item's key hashes (real path, mtime, file size), and the folder name carries size and
settings, so a changed photo or setting misses. Every file is written to a temporary name and
renamed, so an interrupted run never leaves a half-written photo behind.

Under DDP (``torchrun``) every rank calls ``prepare_records`` with the same records: each
preprocesses its share of the photos still to do, writing their items and its own journal
(``journal.<rank>.jsonl``, so no two processes append to one file); the entries are gathered,
and rank 0 alone writes the index, problems.csv and the merged journal. The folder ends exactly
as a single process leaves it.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from tqdm import tqdm

from retinopathy.data.prepared import (
    PROBLEMS,
    STORAGES,
    PreparedSet,
    item_path,
    short_hash,
    write_index,
    write_item,
    write_problems,
)
from retinopathy.data.preprocess import (
    MODES,
    PREPROCESS_VERSION,
    THRESHOLD,
    BadImage,
    check_size,
    first_reasons,
    preprocess_file,
)
from retinopathy.data.sources import Problem, Record
from retinopathy.data.workers import map_unordered, worker_count
from shared.atomic import (
    append_text,
    atomic_write_text,
    is_temporary,
    remove_stale_temporaries,
)
from shared.errors import UserError
from shared.user_dirs import cache_dir

JOURNAL = "journal.jsonl"
RANK_JOURNALS = "journal.*.jsonl"  # rank r > 0's own, merged into JOURNAL by rank 0


def default_cache_dir() -> Path:
    """``$XDG_CACHE_HOME/visionlab``, else ``~/.cache/visionlab`` (:mod:`shared.user_dirs`)."""
    return cache_dir()


def settings_name(size: int, mode: str, storage: str) -> str:
    return f"{mode}-{size}-{storage}-v{PREPROCESS_VERSION}t{THRESHOLD}"


def dataset_folder(records: Sequence[Record], cache_dir: Path) -> Path:
    """``<cache>/retinopathy/<parent>-<folder>-<hash>`` of the photos' common folder.

    Derived from the records alone, so every caller (prepare, train, predict) finds the same.
    """
    common = Path(os.path.commonpath([str(r.path.parent) for r in records]))
    name = "-".join(p for p in (common.parent.name, common.name) if p) or "data"
    return cache_dir / "retinopathy" / f"{name}-{short_hash(str(common), 8)}"


# -- one photo (runs in a worker process) ----------------------------------------------------


@dataclass(frozen=True)
class _Job:
    key: str
    source: str
    target: str
    size: int
    mode: str
    storage: str


def _pixel_sums(image: np.ndarray) -> tuple[list[float], list[float]]:
    """Per-channel sums of the pixels and of their squares, on the 0-1 scale.

    From OpenCV's per-channel mean and deviation, one pass in float64 over the photo as it is:
    splitting it into planes first took longer than the sums (0.3 ms at 512 px), and a float64
    copy for numpy 8 ms, more than all the photo's work but its decode.
    """
    mean, deviation = (v.ravel() for v in cv2.meanStdDev(image))
    n = image.shape[0] * image.shape[1]
    total = [float(m) * n / 255 for m in mean]
    squares = [float(d * d + m * m) * n / 255**2 for m, d in zip(mean, deviation, strict=True)]
    return total, squares


def process_one(job: _Job) -> dict:
    """Preprocess and store one photo; returns its journal entry (never raises on bad input)."""
    try:
        image, notes = preprocess_file(job.source, job.size, job.mode)
    except BadImage as exc:
        return {"key": job.key, "status": "rejected", "reason": str(exc)}
    except Exception as exc:  # a decoder crash on one odd file must not stop the other 35,000
        return {"key": job.key, "status": "rejected", "reason": f"{type(exc).__name__}: {exc}"}
    write_item(Path(job.target), image, job.storage)
    total, squares = _pixel_sums(image)
    return {
        "key": job.key,
        "status": "ok",
        "notes": notes,
        "sum": total,
        "sumsq": squares,
        "pixels": image.shape[0] * image.shape[1],
    }


# -- the job's records -----------------------------------------------------------------------


def _file_key(path: Path) -> str | None:
    try:
        st = path.stat()
    except OSError:
        return None
    return short_hash(f"{os.path.realpath(path)}|{st.st_mtime_ns}|{st.st_size}", 20)


def _journal_of(folder: Path, rank: int) -> Path:
    return folder / (JOURNAL if rank == 0 else RANK_JOURNALS.replace("*", str(rank)))


def _read_journal(path: Path) -> dict[str, dict]:
    entries: dict[str, dict] = {}
    if not path.exists():
        return entries
    with open(path, encoding="utf-8") as f:
        for line in f:
            try:
                entry = json.loads(line)
            except json.JSONDecodeError:  # the last line of a killed run may be cut short
                continue
            entries[entry["key"]] = entry
    return entries


def _read_journals(folder: Path) -> dict[str, dict]:
    """The journal's entries, and those of the ranks' own a killed DDP prepare left."""
    entries: dict[str, dict] = {}
    for path in [folder / JOURNAL, *sorted(folder.glob(RANK_JOURNALS))]:
        entries.update(_read_journal(path))
    return entries


def _run_my_share(
    jobs: list[_Job], workers: int | None, folder: Path, progress: bool
) -> dict[str, dict]:
    """This rank's share of ``jobs`` (all of them without DDP), then every rank's results."""
    from shared import distributed as ddp  # here: torch, which the photo workers never load

    mine, rank, local_ranks = ddp.my_share(jobs), ddp.rank(), ddp.local_world_size()
    if workers is None and local_ranks > 1:  # the ranks on this machine share its cores
        workers = max(1, (os.cpu_count() or 1) // local_ranks)
    done = _run_jobs(
        mine, worker_count(workers, len(mine)), _journal_of(folder, rank), progress and rank == 0
    )
    return {k: v for part in ddp.all_gather_object(done) for k, v in part.items()}


def _compact_journal(path: Path, journal: dict[str, dict], live: set[str]) -> None:
    text = "".join(json.dumps(journal[k]) + "\n" for k in sorted(live) if k in journal)
    atomic_write_text(path, text)


def _usable(entry: dict | None, target: Path | None) -> bool:
    if entry is None:
        return False
    return entry["status"] == "rejected" or (target is not None and target.exists())


def _run_jobs(jobs: list[_Job], workers: int, journal: Path, progress: bool) -> dict[str, dict]:
    """Process ``jobs`` in parallel, appending each result to the journal as it arrives."""
    results: dict[str, dict] = {}
    if not jobs:
        return results
    chunk = max(1, min(16, len(jobs) // (workers * 8)))
    with tqdm(total=len(jobs), desc="prepare", unit="photo", disable=not progress) as bar:
        for entry in map_unordered(process_one, jobs, workers, chunk):
            append_text(journal, json.dumps(entry) + "\n")
            results[entry["key"]] = entry
            bar.update()
    return results


def _remove_leftovers(items: Path, keep: set[str]) -> None:
    """Delete photos no record points to any more, and temporary files of killed writers.

    A temporary file whose writer still runs is another prepare's write in flight: left alone.
    """
    for sub in items.iterdir():
        remove_stale_temporaries(sub)
        for f in sub.iterdir():
            if not is_temporary(f) and f.stem not in keep:
                f.unlink(missing_ok=True)


def _check_settings(records: Sequence[Record], size: int, mode: str, storage: str) -> None:
    if mode not in MODES:
        raise UserError(f"unknown mode {mode!r}; choose one of: {', '.join(MODES)}")
    if storage not in STORAGES:
        raise UserError(f"unknown storage {storage!r}; choose one of: {', '.join(STORAGES)}")
    if not records:
        raise UserError("no photos to prepare")
    check_size(size)


def _write_records(folder: Path, prepared: PreparedSet, journal: dict, live: set[str]) -> None:
    """The journal (every rank's merged into one), the items kept, problems.csv and the index."""
    _compact_journal(folder / JOURNAL, journal, live)
    for path in folder.glob(RANK_JOURNALS):  # merged into JOURNAL now
        path.unlink(missing_ok=True)
    _remove_leftovers(folder / "items", {k for k in live if journal[k]["status"] == "ok"})
    write_problems(folder / PROBLEMS, prepared.problems)
    write_index(folder, prepared.records, prepared.files)


# -- prepare ---------------------------------------------------------------------------------


def prepare_records(
    records: Sequence[Record],
    size: int,
    mode: str = "crop",
    cache_dir: str | Path | None = None,
    workers: int | None = None,
    *,
    storage: str = "npy",
    rejected: Sequence[Problem] = (),
    progress: bool = True,
) -> PreparedSet:
    """Preprocess ``records`` into the cache (only what is not there yet) and describe the result.

    ``rejected`` are rows the reader already refused (bad label, duplicate id, ...); they are
    listed in ``problems.csv`` with the photos that fail here. ``workers``: all cores.
    """
    from shared import distributed as ddp  # here: torch, which the photo workers never load

    _check_settings(records, size, mode, storage)
    cache_dir = Path(cache_dir).expanduser() if cache_dir else default_cache_dir()
    folder = dataset_folder(records, cache_dir) / settings_name(size, mode, storage)
    (folder / "items").mkdir(parents=True, exist_ok=True)
    journal = _read_journals(folder)

    keys = [_file_key(r.path) for r in records]
    targets = {k: item_path(folder, k, storage) for k in keys if k}
    todo: dict[str, _Job] = {}
    for r, k in zip(records, keys, strict=True):
        if k and k not in todo and not _usable(journal.get(k), targets[k]):
            todo[k] = _Job(k, str(r.path), str(targets[k]), size, mode, storage)
    for sub in {Path(j.target).parent for j in todo.values()}:
        sub.mkdir(parents=True, exist_ok=True)
    ddp.barrier()  # every rank has taken stock before any writes: they share out the same list
    journal.update(_run_my_share(list(todo.values()), workers, folder, progress))

    prepared = PreparedSet(folder, size, mode, [], [], list(rejected), processed=len(todo))
    prepared.reused = sum(1 for k in keys if k and k not in todo)
    for r, k in zip(records, keys, strict=True):
        entry = journal[k] if k else {"status": "rejected", "reason": "file not found"}
        if entry["status"] == "rejected":
            prepared.problems.append(Problem(str(r.path), r.id, "rejected", entry["reason"]))
            continue
        for note in entry.get("notes", []):
            prepared.problems.append(Problem(str(r.path), r.id, "converted", note))
        prepared.records.append(r)
        prepared.files.append(targets[k])
        prepared._sums.append((entry["sum"], entry["sumsq"], entry["pixels"]))

    if ddp.is_main_process():
        _write_records(folder, prepared, journal, {k for k in keys if k})
    ddp.barrier()  # every rank returns once the index is written
    if not prepared.records:
        reasons = first_reasons([f"{Path(p.path).name}: {p.reason}" for p in prepared.rejected])
        raise UserError(
            f"none of the {len(records)} photos could be used ({reasons}); see {folder / PROBLEMS}"
        )
    return prepared
