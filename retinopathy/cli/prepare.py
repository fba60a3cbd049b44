"""Preprocess a dataset's photos once into the cache that training reads.

    python -m retinopathy prepare ~/data/eyepacs --size 512
    python -m retinopathy prepare                 # the built-in synthetic sample set
    python -m retinopathy prepare DATA --mode graham --cache /scratch/cache --workers 8
    python -m retinopathy prepare DATA --workers 1 --threads 4   # one process, 4 OpenCV threads

DATA is a dataset folder (EyePACS, APTOS 2019, Messidor-2, IDRiD, class folders), a path,label
CSV, or "synthetic" (the default: about 2,000 generated photos, made once); several, comma-
separated, are prepared one after the other, as ``train`` on their union needs. Every photo is
cropped to the eye, squared and resized (``crop``), or also colour-normalised (``graham``), in
parallel:
by ``--workers`` processes of one OpenCV thread each, or (``--workers 1``) in this process, whose
torch and OpenCV threads ``--threads`` bounds (printed first; the photos are the same). The
size and settings are the ones ``train`` uses for the same DATA and flags, so it finds them
ready. Re-running does only what changed; an interrupted run resumes. Bad photos are listed, with
the reason, in problems.csv inside the cache folder, and the rest go on.
"""

from __future__ import annotations

import argparse

from retinopathy.cli.flags import add_data_arguments, data_options
from retinopathy.config import DataConfig
from retinopathy.prepare import prepare
from shared.cli import add_threads_argument


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_data_arguments(parser)
    add_threads_argument(parser)  # train has its own, which bounds its prepare too


def run(args: argparse.Namespace) -> int:
    for one in DataConfig(**data_options(args)).each_source():  # DATA=a,b: each one in turn
        prepare(one, verbose=True)
    return 0
