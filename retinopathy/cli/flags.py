"""Flags several commands share: the data flags of ``prepare`` and ``train`` (which photos, and
how they are preprocessed), ``--tta`` and ``--thresholds`` (``train``, ``evaluate``,
``predict``), the screening targets and ``--bootstrap`` (``train``, ``evaluate``), and what
``evaluate``'s and ``predict``'s ``--precision`` default to."""

from __future__ import annotations

import argparse
from dataclasses import fields
from pathlib import Path

from retinopathy.config import REAL_DATA, SAMPLE_SET, DataConfig
from retinopathy.data.cache import default_cache_dir
from retinopathy.data.prepared import STORAGES
from retinopathy.data.preprocess import MODES
from retinopathy.data.sources import FORMATS
from retinopathy.operating_points import SENS_TARGET, SPEC_TARGET
from retinopathy.uncertainty import N_RESAMPLES
from shared.cli import default_of, given

# One flag per DataConfig field, each named after it.
DATA_OPTIONS = tuple(f.name for f in fields(DataConfig))
# What evaluate's and predict's --precision default to (retinopathy.models.KeptModel.compute_dtype).
RUN_PRECISION = "the one the run was trained in"


def add_data_arguments(parser: argparse.ArgumentParser | argparse._ArgumentGroup) -> None:
    def default(name: str) -> str:
        return f"default: {default_of(DataConfig, name)}"

    parser.add_argument(
        "data",
        nargs="?",
        metavar="DATA",
        help="dataset folder or CSV; several, comma-separated (a,b): their union (default: the "
        "built-in synthetic sample set)",
    )
    parser.add_argument("--format", choices=FORMATS, help="dataset format (default: detected)")
    parser.add_argument(
        "--image-size",
        "--size",
        dest="image_size",
        type=int,
        metavar="PX",
        help=f"side of the preprocessed photos in px (default: {SAMPLE_SET['image_size']} on "
        f"the sample set, {REAL_DATA['image_size']} on real data)",
    )
    parser.add_argument("--mode", choices=MODES, help=f"preprocessing ({default('mode')})")
    parser.add_argument(
        "--cache",
        type=Path,
        help=f"cache folder (default: {default_cache_dir()}; $XDG_CACHE_HOME respected)",
    )
    parser.add_argument(
        "--storage",
        choices=STORAGES,
        help=f"cached photo format: raw npy (fast) or jpeg (12x smaller) ({default('storage')})",
    )
    parser.add_argument("--workers", type=int, help="preprocessing processes (default: all cores)")
    parser.add_argument(
        "--synthetic-images",
        type=int,
        help=f"photos in the sample set ({default('synthetic_images')})",
    )
    parser.add_argument(
        "--synthetic-size",
        type=int,
        help=f"height of the sample set's photos in px ({default('synthetic_size')})",
    )


def data_options(args: argparse.Namespace) -> dict:
    """The data flags the user set, by DataConfig field name."""
    return given(args, *DATA_OPTIONS)


def add_tta_argument(
    parser: argparse.ArgumentParser | argparse._ArgumentGroup, default: str | None = None
) -> None:
    """``--tta``; ``default`` says, where it is not off, what leaving it out means."""
    parser.add_argument(
        "--tta",
        action="store_true",
        default=None,
        help="average the predictions over horizontal and vertical flips"
        + (f" (default: {default})" if default else ""),
    )


def add_thresholds_argument(
    parser: argparse.ArgumentParser | argparse._ArgumentGroup, default: str
) -> None:
    parser.add_argument(
        "--thresholds",
        metavar="A,B,...",
        help="the K-1 increasing cut points between grades on the head's score, e.g. "
        f"0.7,1.4,2.6,3.3 for five grades; a negative first one: --thresholds=-0.2,... "
        f"(default: {default})",
    )


def add_screening_arguments(
    parser: argparse.ArgumentParser | argparse._ArgumentGroup, default: str | None = None
) -> None:
    """``--spec-target``, ``--sens-target``, ``--bootstrap``; ``default``: what leaving one out
    means where it is not the library's default."""

    def said(value: object) -> str:
        return f"(default: {default or value})"

    parser.add_argument(
        "--spec-target",
        type=float,
        metavar="RATE",
        help=f"specificity the high-specificity operating point reaches on validation "
        f"{said(SPEC_TARGET)}",
    )
    parser.add_argument(
        "--sens-target",
        type=float,
        metavar="RATE",
        help=f"sensitivity the high-sensitivity operating point reaches on validation "
        f"{said(SENS_TARGET)}",
    )
    parser.add_argument(
        "--bootstrap",
        type=int,
        metavar="N",
        help=f"resamples of the test set's 95%% intervals, by patient {said(N_RESAMPLES)}",
    )
