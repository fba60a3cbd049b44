"""Which options a resume may be given: the run's own values, and the ones that change only how
fast it computes; any other is named, as the ``train`` command's flag, and refused."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from retinopathy.config import DERIVED, RECORDED, RunConfig

# Options a resume may be given with other values: they change how fast, not what, is computed
# (the thread count a resume takes from the run's record, with a warning).
FREE_ON_RESUME = frozenset(
    {"workers", "num_workers", "checkpoint_every", "plots", "threads", "tensorboard", "keep_last"}
)

# The options whose flag is not their name with dashes (see :meth:`RunConfig.from_options`).
FLAGS = {"num_workers": "--loader-workers", "early_stopping_patience": "--early-stopping"}


def flag_of(option: str) -> str:
    """The ``train`` command's flag for a flat option name."""
    return FLAGS.get(option, "--" + option.replace("_", "-"))


def _options_of(config: RunConfig) -> dict[str, Any]:
    """``config`` as the flat options :meth:`RunConfig.from_options` takes, in JSON's types."""
    record = json.loads(json.dumps(config.to_json(), default=str))
    engine = {k: v for k, v in record.pop("train").items() if k not in DERIVED}
    skip = {"app", "num_classes", *RECORDED}
    return {**{k: v for k, v in record.items() if k not in skip}, **engine}


def changed_options(config: RunConfig, options: Mapping[str, Any]) -> list[str]:
    """The names among ``options`` (flat, as for :meth:`RunConfig.from_options`) that would give
    the run of ``config`` other settings; ``None`` values and :data:`FREE_ON_RESUME` never do,
    nor ``precision`` ``auto`` (a resume takes the precision the run chose)."""
    asked = {k: v for k, v in options.items() if v is not None and k not in FREE_ON_RESUME}
    if asked.get("precision") == "auto":
        del asked["precision"]
    before = _options_of(config)
    after = _options_of(RunConfig.from_options(**{**before, **asked}))
    return [name for name in asked if before.get(name) != after.get(name)]
