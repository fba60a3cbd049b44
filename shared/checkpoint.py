"""Checkpoint files: written atomically, read without running code, RNG states included.

    from shared.checkpoint import save_checkpoint, load_checkpoint
    save_checkpoint(run.last, {"model": model.state_dict(), "epoch": 3, "rng": capture_rng_state()})
    state = load_checkpoint(run.last)          # CheckpointError if the file holds pickled code

A checkpoint holds only tensors and plain containers (dict, list, tuple, str, int, float, bool,
None), so ``torch.load(weights_only=True)`` reads it. That rules out an ``argparse.Namespace`` for
the config (store ``vars(args)``) and numpy's legacy RNG tuple (it holds an ndarray):
:func:`capture_rng_state` turns every generator's state into tensors and ints.

A write goes to a temporary file in the same folder, is fsync'ed, then renamed over the target,
so a run killed at any instant leaves either the old checkpoint or the new one, never half of one.
"""

from __future__ import annotations

import pickle
import random
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch

from shared.atomic import atomic_path
from shared.cli import UserError


class CheckpointError(UserError):
    """A checkpoint that cannot be read safely: missing, corrupt, or carrying pickled objects."""


def save_checkpoint(path: str | Path, state: Mapping[str, Any]) -> Path:
    """Write ``state`` to ``path`` atomically (temp file in the same folder, fsync, rename)."""
    with atomic_path(path, durable=True) as tmp, open(tmp, "wb") as f:
        torch.save(dict(state), f)
    return Path(path)


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
    return state


def capture_rng_state() -> dict[str, Any]:
    """Every generator a training step may draw from, as tensors and ints.

    Python's ``random``, numpy's global ``RandomState``, torch's CPU generator and, when CUDA is
    in use, the current CUDA device's generator.
    """
    version, mt, gauss = random.getstate()
    np_state = np.random.get_state(legacy=False)
    state: dict[str, Any] = {
        "python": {"version": version, "mt": torch.tensor(mt, dtype=torch.int64), "gauss": gauss},
        "numpy": {
            "key": torch.from_numpy(np_state["state"]["key"].astype(np.int64)),
            "pos": int(np_state["state"]["pos"]),
            "has_gauss": int(np_state["has_gauss"]),
            "gauss": float(np_state["gauss"]),
        },
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state()
    return state


def restore_rng_state(state: Mapping[str, Any]) -> None:
    """Put back what :func:`capture_rng_state` returned."""
    py = state["python"]
    random.setstate((py["version"], tuple(int(v) for v in py["mt"].tolist()), py["gauss"]))
    npy = state["numpy"]
    np.random.set_state(
        {
            "bit_generator": "MT19937",
            "state": {"key": npy["key"].numpy().astype(np.uint32), "pos": npy["pos"]},
            "has_gauss": npy["has_gauss"],
            "gauss": npy["gauss"],
        }
    )
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state(state["cuda"])
