"""Every random generator the project draws from: seeding, mixing seeds, capture and restore.

    from shared.rng import seed_everything, mix_seed, capture_rng_state, restore_rng_state
    seed_everything(0)                       # Python's, numpy's and torch's global generators
    seed = mix_seed(run_seed, epoch, rank)   # one well-spread seed from several small ints
    state = capture_rng_state()              # tensors and ints only: a checkpoint can hold it
    restore_rng_state(state)

Exact resume rests on this module: a checkpoint stores :func:`capture_rng_state`, and the data
order and augmentation are drawn from generators seeded with :func:`mix_seed` of the run's seed
and the position in the run, never from when or where a batch happens to be loaded.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from typing import Any

import numpy as np
import torch


def seed_everything(seed: int) -> None:
    """Seed Python's, numpy's and torch's global generators (all devices)."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def seed_batch(seed: int) -> None:
    """Seed the generators a data loader draws from for one batch (torch's CPU one only, so
    a CUDA stream's generator is left alone)."""
    torch.random.default_generator.manual_seed(seed)
    random.seed(seed)
    np.random.seed(seed)


def mix_seed(*values: int) -> int:
    """One well-spread 64-bit seed from several small ints (seed, epoch, rank, stream)."""
    return int(np.random.SeedSequence(list(values)).generate_state(1, np.uint64)[0])


def capture_rng_state() -> dict[str, Any]:
    """Every generator a training step may draw from, as tensors and ints.

    Python's ``random``, numpy's global ``RandomState``, torch's CPU generator and, when CUDA is
    in use, the current CUDA device's generator. Tensors and ints, because a checkpoint is read
    with ``torch.load(weights_only=True)`` and numpy's legacy state tuple holds an ndarray.
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
