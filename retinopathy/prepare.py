"""Preprocess a dataset's photos once into the cache that training reads: the prepare pipeline.

    from retinopathy.config import DataConfig
    from retinopathy.prepare import prepare
    prepared = prepare(DataConfig("~/data/eyepacs", image_size=512))
    prepared = prepare(DataConfig())       # the built-in sample set, drawn first if need be

A finished run records its prepared folder in config.json; :func:`reopen` reads it back from
there without looking at the original photos again.

Under ``torchrun`` (``torchrun --nproc_per_node 4 -m retinopathy prepare DATA``) each rank
preprocesses its share of the photos; the cache is the one a single process makes.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import torch

from retinopathy.config import DataConfig, RunConfig
from retinopathy.data.cache import prepare_records
from retinopathy.data.pooled import pool, source_names
from retinopathy.data.prepared import INDEX, PreparedSet, open_prepared, problems_line
from retinopathy.data.sources import Source, load_source
from retinopathy.data.synthetic import default_root, generate
from shared.distributed import init_distributed, is_main_process, on_main
from shared.threads import choose_threads, cpu_threads, opencv_threads


def open_source(config: DataConfig, *, progress: bool = True) -> Source:
    """Read DATA (drawing the sample set first, once, if that is what DATA names)."""
    if config.on_sample_set:
        n, size = config.synthetic_images, config.synthetic_size
        root = on_main(  # drawn once, by rank 0, under DDP
            generate,
            default_root(n, size=size, cache_dir=config.cache),
            n_images=n,
            size=size,
            workers=config.workers,
            progress=progress,
        )
        return load_source(root, "eyepacs")
    return load_source(config.data, config.format)


def prepare(
    config: DataConfig,
    *,
    progress: bool = True,
    verbose: bool = False,
    source: Source | None = None,
) -> PreparedSet:
    """Read the dataset and preprocess it into the cache, reusing what is there.

    ``source``: the dataset as already read (by a caller that checked it first).

    ``progress``: progress bars; ``verbose``: print what is done and where the cache is.
    ``config.threads`` (None: the idle cores) bounds torch's and OpenCV's threads in this
    process meanwhile, and is set to the count used, so a run's config.json records it.
    """
    init_distributed(torch.device("cpu"))  # a no-op unless under torchrun, or already joined
    config.threads = choose_threads(config.threads)
    with cpu_threads(config.threads), opencv_threads(config.threads):
        if verbose and is_main_process():
            print(header(config), flush=True)
        source = source or open_source(config, progress=progress)
        prepared = prepare_records(
            source.records,
            config.image_size,
            config.mode,
            config.cache,
            config.workers,
            storage=config.storage,
            rejected=source.rejected,
            progress=progress,
        )
    if verbose and is_main_process():
        print(summary(prepared))
        print(f"cache: {prepared.folder}")
    return prepared


def prepare_sources(
    config: DataConfig, *, progress: bool = True
) -> tuple[PreparedSet, list[dict[str, Any]]]:
    """:func:`prepare` of DATA, and what a run records of its datasets: nothing for one; for
    several (DATA=a,b), each prepared on its own, then pooled (:mod:`retinopathy.data.pooled`),
    and each one's name, path, format, prepared folder and photo count."""
    each = config.each_source()
    if len(each) == 1:
        return prepare(config, progress=progress), []
    sources = [open_source(c, progress=progress) for c in each]  # every one readable first
    sets = [prepare(c, progress=progress, source=s) for c, s in zip(each, sources, strict=True)]
    config.threads = each[0].threads
    names = source_names([c.data for c in each])
    record = [
        {"name": name, "data": c.data, "format": s.format, "prepared": str(one.folder),
         "photos": len(one)}
        for name, c, s, one in zip(names, each, sources, sets, strict=True)
    ]  # fmt: skip
    return pool(sets, names), record


def reopen(config: RunConfig) -> PreparedSet:
    """The prepared set a run recorded, as the cache holds it; prepared again only if it is gone."""
    if config.sources:
        sets = [_reopen_one(replace(config.data, data=s["data"]), s.get("prepared"))
                for s in config.sources]  # fmt: skip
        return pool(sets, [s["name"] for s in config.sources])
    return _reopen_one(config.data, config.prepared)


def _reopen_one(data: DataConfig, folder: str | None) -> PreparedSet:
    if folder and (Path(folder) / INDEX).is_file():
        return open_prepared(folder, data.image_size, data.mode)
    return prepare(data, progress=False)


def header(config: DataConfig) -> str:
    """What prepare is about to do: the photos, their size and mode, the CPU threads."""
    threads = f"{config.threads} CPU thread{'' if config.threads == 1 else 's'}"
    return f"preparing {config.data} at {config.image_size} px ({config.mode}), {threads}"


def summary(prepared: PreparedSet) -> str:
    line = (
        f"{len(prepared)} photos ready at {prepared.size} px ({prepared.mode}): "
        f"{prepared.processed} preprocessed, {prepared.reused} from the cache"
    )
    if prepared.problems:
        line += "; " + problems_line(prepared).split("; ", 1)[1]
    return line
