"""Diabetic-retinopathy grading from fundus photographs: the Python API.

    import retinopathy
    run = retinopathy.train(retinopathy.RunConfig.from_options(arch="resnet18", epochs=5))
    retinopathy.evaluate(run)                               # metrics and report.md again
    df = retinopathy.grade(run, "new_photos/")              # one row per photo
    retinopathy.resume(run)                                 # continue a killed run
    retinopathy.prepare(retinopathy.DataConfig("~/data/eyepacs"))   # only preprocess

The same pipelines as ``python -m retinopathy prepare|train|evaluate|predict``, taking the
config dataclasses of :mod:`retinopathy.config`. Each is imported on first use (torch and the
engine take seconds to load, and the preprocessing workers need none of it).
"""

from __future__ import annotations

import importlib
import sys
import types
from typing import Any

# public name -> module that defines it
_API = {
    "grade": "retinopathy.predict",
    "predict": "retinopathy.predict",
    "train": "retinopathy.train",
    "resume": "retinopathy.train",
    "evaluate": "retinopathy.evaluate",
    "prepare": "retinopathy.prepare",
    "DataConfig": "retinopathy.config",
    "RunConfig": "retinopathy.config",
    "PredictConfig": "retinopathy.config",
    "EvaluateConfig": "retinopathy.config",
}
__all__ = sorted(_API)


def __getattr__(name: str) -> Any:
    if name not in _API:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(_API[name]), name)


def __dir__() -> list[str]:
    return sorted({*globals(), *_API})


class _Package(types.ModuleType):
    """The package, keeping ``train``, ``evaluate``, ``predict`` and ``prepare`` the functions.

    Importing a sub-module binds it as an attribute of its package, and four pipeline modules
    share their main function's name: without this, ``retinopathy.train`` would turn from the
    function into the module as soon as anything imported ``retinopathy.train``.
    """

    def __setattr__(self, name: str, value: Any) -> None:
        if name in _API and isinstance(value, types.ModuleType):
            return  # still importable as a module: it stays in sys.modules
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package
