"""Checkpoint files: written atomically, versioned, read without running code.

    from shared.checkpoint import save_checkpoint, load_checkpoint
    save_checkpoint(run.last, {"model": model.state_dict(), "epoch": 3, "rng": capture_rng_state()})
    state = load_checkpoint(run.last)     # CheckpointError if unreadable, foreign or pickled code

A checkpoint holds only tensors and plain containers (dict, list, tuple, str, int, float, bool,
None), so ``torch.load(weights_only=True)`` reads it and nothing in it executes. It holds the
training state, not the run's configuration: that lives once, in the run's ``config.json``
(:mod:`shared.runs`), so the two can never disagree.

A trainer's checkpoint also names the model it holds (``"arch"``), so that a file of another
architecture placed in a run is refused by name (:func:`load_model_weights`), not loaded by luck
or rejected with a page of missing keys.

Each file carries ``"format": FORMAT``. A reader refuses a file of a format it does not know with
one line, instead of failing later on a missing key. Bump ``FORMAT`` when the layout changes in a
way an older reader would misread, and keep reading the old ones where that is cheap.

A write goes to a temporary file in the same folder, is fsync'ed, then renamed over the target,
so a run killed at any instant leaves either the old checkpoint or the new one, never half of one.
"""

from __future__ import annotations

import pickle
import re
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from torch import nn

from shared.atomic import atomic_path
from shared.errors import UserError

FORMAT = 1
READABLE_FORMATS = frozenset({1})


class CheckpointError(UserError):
    """A checkpoint that cannot be read safely: missing, corrupt, foreign or carrying code."""


def save_checkpoint(path: str | Path, state: Mapping[str, Any]) -> Path:
    """Write ``state`` (plus its format version) to ``path`` atomically."""
    needs = _tensor_bytes(state)  # the file's size, near enough, for a full disk's message
    with atomic_path(path, durable=True, needs=needs) as tmp, open(tmp, "wb") as f:
        torch.save({"format": FORMAT, **state}, f)
    return Path(path)


def _tensor_bytes(value: Any) -> int:
    if isinstance(value, torch.Tensor):
        return value.numel() * value.element_size()
    if isinstance(value, Mapping):
        return sum(_tensor_bytes(v) for v in value.values())
    if isinstance(value, (list, tuple)):
        return sum(_tensor_bytes(v) for v in value)
    return 0


def load_checkpoint(path: str | Path, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """Read a checkpoint with ``weights_only=True``; refuse anything that would run code."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"no checkpoint at {path}")
    try:
        state = torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as exc:
        found = re.search(r"Unsupported global: GLOBAL (\S+)", str(exc))
        detail = f" (it names {found.group(1)})" if found else ""
        raise CheckpointError(
            f"{path}: refused to unpickle arbitrary objects{detail}; a checkpoint may hold only "
            "tensors and plain containers"
        ) from None
    except (RuntimeError, EOFError, OSError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise CheckpointError(f"{path} is not a readable checkpoint: {first}") from None
    if not isinstance(state, dict):
        raise CheckpointError(f"{path} holds a {type(state).__name__}, not a checkpoint dict")
    version = state.get("format")
    if version not in READABLE_FORMATS:
        known = ", ".join(str(v) for v in sorted(READABLE_FORMATS))
        what = "no format version" if version is None else f"format {version!r}"
        raise CheckpointError(
            f"{path} has {what}; this version of visionlab reads checkpoint format {known}"
        )
    return state


def load_model_weights(model: nn.Module, state: Mapping[str, Any], path: Path, arch: str) -> None:
    """Load ``state["model"]`` into ``model``, an ``arch``; a one-line :class:`CheckpointError`
    when the file holds another architecture or weights that do not fit.

    A file that does not name its architecture (written before checkpoints did) is loaded when
    its tensors fit, with a warning saying so.
    """
    named = state.get("arch")
    if named is not None and named != arch:
        raise CheckpointError(f"{path} holds a {named} model, not the run's {arch}")
    weights = state.get("model")
    if not isinstance(weights, Mapping) or not weights:
        raise CheckpointError(f"{path} holds no model weights")
    misfit = _misfit(model.state_dict(), weights)
    if misfit:
        raise CheckpointError(f"{path} does not fit the run's {arch}: {misfit}")
    model.load_state_dict(weights)
    if named is None:
        warnings.warn(
            f"{path} does not say which architecture it holds; its weights fit {arch}, so they "
            "are used as one",
            stacklevel=2,
        )


def _misfit(expected: Mapping[str, torch.Tensor], weights: Mapping[str, Any]) -> str | None:
    """What keeps ``weights`` from loading into a model whose state is ``expected``, or None."""
    missing = [k for k in expected if k not in weights]
    unexpected = [k for k in weights if k not in expected]
    if missing or unexpected:
        parts = [f"{len(missing)} tensor(s) missing ({missing[0]}...)"] if missing else []
        if unexpected:
            parts.append(f"{len(unexpected)} unexpected ({unexpected[0]}...)")
        return ", ".join(parts)
    for key, tensor in expected.items():
        value = weights[key]
        if not isinstance(value, torch.Tensor):
            return f"{key} is a {type(value).__name__}, not a tensor"
        if value.shape != tensor.shape:
            return f"{key} is {tuple(value.shape)} in the file, {tuple(tensor.shape)} in the model"
    return None
