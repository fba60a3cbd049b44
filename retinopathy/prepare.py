"""Preprocess a dataset's photos once into the cache that training reads.

    python -m retinopathy prepare ~/data/eyepacs --size 512
    python -m retinopathy prepare                 # the built-in synthetic sample set
    python -m retinopathy prepare DATA --mode graham --cache /scratch/cache --workers 8

DATA is a dataset folder (EyePACS, APTOS 2019, Messidor-2, IDRiD, class folders), a path,label
CSV, or "synthetic" (the default: about 2,000 generated photos, made once). Every photo is cropped
to the eye, squared and resized (``crop``), or also colour-normalised (``graham``), in parallel.
Re-running does only what changed; an interrupted run resumes. Bad photos are listed, with the
reason, in problems.csv inside the cache folder, and the rest go on.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from retinopathy.data.cache import STORAGES, PreparedSet, default_cache_dir, prepare
from retinopathy.data.preprocess import MODES
from retinopathy.data.sources import FORMATS, Source, load_source
from retinopathy.data.synthetic import default_root, generate

SYNTHETIC = "synthetic"


def add_data_arguments(parser: argparse.ArgumentParser) -> None:
    """The options ``prepare`` shares with ``train`` (DATA, format, size, mode, cache, workers)."""
    parser.add_argument(
        "data",
        nargs="?",
        default=SYNTHETIC,
        metavar="DATA",
        help="dataset folder or CSV (default: the built-in synthetic set)",
    )
    parser.add_argument("--format", choices=FORMATS, help="dataset format (default: detected)")
    parser.add_argument("--size", type=int, default=512, help="cached image side in px (512)")
    parser.add_argument("--mode", choices=MODES, default="crop", help="preprocessing (crop)")
    parser.add_argument(
        "--cache",
        type=Path,
        default=None,
        help=f"cache folder (default {default_cache_dir()}; $XDG_CACHE_HOME respected)",
    )
    parser.add_argument(
        "--storage",
        choices=STORAGES,
        default="npy",
        help="cached photo format: raw npy (fast) or jpeg (12x smaller)",
    )
    parser.add_argument("--workers", type=int, default=None, help="processes (default: all cores)")
    parser.add_argument("--synthetic-images", type=int, default=2000, help=argparse.SUPPRESS)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_data_arguments(parser)


def open_source(args: argparse.Namespace) -> Source:
    """Read DATA (generating the synthetic set first if asked for)."""
    if args.data == SYNTHETIC:
        root = generate(
            default_root(args.synthetic_images, cache_dir=args.cache),
            n_images=args.synthetic_images,
            workers=args.workers,
        )
        return load_source(root, "eyepacs")
    return load_source(args.data, args.format)


def prepare_from_args(args: argparse.Namespace) -> PreparedSet:
    source = open_source(args)
    return prepare(
        source.records,
        args.size,
        args.mode,
        args.cache,
        args.workers,
        storage=args.storage,
        rejected=source.rejected,
    )


def summary(prepared: PreparedSet) -> str:
    line = (
        f"{len(prepared)} photos ready at {prepared.size} px ({prepared.mode}): "
        f"{prepared.processed} preprocessed, {prepared.reused} from the cache"
    )
    if prepared.problems:
        line += (
            f"; {len(prepared.rejected)} rejected, {len(prepared.converted)} converted "
            f"(see {prepared.folder / 'problems.csv'})"
        )
    return line


def run(args: argparse.Namespace) -> int:
    prepared = prepare_from_args(args)
    print(summary(prepared))
    print(f"cache: {prepared.folder}")
    return 0
