"""``train --config FILE``: a run's settings read back, with the flags given beside them on top.

    from retinopathy.config_file import rerun_options
    path, options, overrides = rerun_options(Path("runs/retinopathy/r1"), {"epochs": 3})
    config = RunConfig.from_options(**options)

FILE is a run folder or its ``config.json`` (everything the run recorded that decides its
numbers: seeds, split, data, model, the engine's settings and its thread count, so the same
command on the same machine gives the same metrics), or a TOML file with the same keys: the
data and run settings at the top level, the engine's under ``[train]``, e.g.

    arch = "resnet18"
    image_size = 96
    [train]
    epochs = 5
    lr = 1e-3

What the run found rather than chose (mean and std, the prepared set, the weights loaded) is
found again; a TOML key that is not a setting is refused, naming it.
"""

from __future__ import annotations

import json
from dataclasses import fields
from pathlib import Path
from typing import Any

import tomllib

from retinopathy.config import APP, DERIVED, RECORDED, DataConfig, RunConfig
from shared.engine import TrainConfig
from shared.errors import UserError
from shared.runs import RunPaths

DATA_NAMES = frozenset(f.name for f in fields(DataConfig))
RUN_NAMES = frozenset(f.name for f in fields(RunConfig)) - {"data", "train", *RECORDED}
ENGINE_NAMES = frozenset(f.name for f in fields(TrainConfig)) - set(DERIVED)
CONFIG = RunPaths(Path()).config.name  # a run folder's config.json


def read_settings(path: Path) -> tuple[Path, dict[str, Any]]:
    """The file read (a run folder's config.json) and its settings, flat, as
    :meth:`RunConfig.from_options` takes them."""
    path = Path(path).expanduser()
    if path.is_dir():
        path = RunPaths(path).config
    if not path.is_file():
        raise UserError(f"--config {path}: no such file (a run folder, its {CONFIG}, or a TOML)")
    toml = path.suffix.lower() == ".toml"
    try:
        record = tomllib.loads(path.read_text()) if toml else json.loads(path.read_text())
    except (ValueError, UnicodeDecodeError) as exc:  # tomllib's and json's errors are ValueErrors
        raise UserError(
            f"--config {path}: not valid {'TOML' if toml else 'JSON'} ({exc})"
        ) from None
    if not isinstance(record, dict) or not isinstance(record.get("train", {}), dict):
        raise UserError(f"--config {path}: expected a table of settings")
    if not toml and record.get("app") != APP:
        raise UserError(f"--config {path} is not a {APP} run's {CONFIG}")
    engine = record.get("train", {})
    if toml:
        unknown = sorted(set(record) - DATA_NAMES - RUN_NAMES - {"train"})
        unknown += sorted(f"train.{k}" for k in set(engine) - ENGINE_NAMES)
        if unknown:
            raise UserError(f"--config {path}: not a training setting: {', '.join(unknown)}")
    settings = {k: v for k, v in record.items() if k in DATA_NAMES | RUN_NAMES}
    settings.update({k: v for k, v in engine.items() if k in ENGINE_NAMES})
    return path, settings


def rerun_options(path: Path, given: dict[str, Any]) -> tuple[Path, dict[str, Any], dict[str, Any]]:
    """The file read, the options of a run made from it with ``given`` (the flags set beside
    it) on top, and the overrides: the given values that differ from the file's."""
    path, settings = read_settings(path)
    overrides = {k: v for k, v in given.items() if settings.get(k) != v}
    return path, {**settings, **given}, overrides
