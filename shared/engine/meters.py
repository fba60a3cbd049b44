"""The epoch's running averages of what the training step logs, kept across a mid-epoch resume."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch

from shared.distributed import all_reduce_sum


class Meters:
    """Sample-weighted running sums of the epoch's training values (saved mid-epoch)."""

    def __init__(self, state: Mapping[str, Any] | None = None) -> None:
        self.n = float(state["n"]) if state else 0.0
        self.sums: dict[str, float] = dict(state["sums"]) if state else {}

    def update(self, values: Mapping[str, float], n: int) -> None:
        for key, value in values.items():
            self.sums[key] = self.sums.get(key, 0.0) + value * n
        self.n += n

    def averages(self) -> dict[str, float]:
        """Per-sample means over the epoch, summed across DDP ranks."""
        keys = list(self.sums)  # the step function's order, the same on every rank
        totals = all_reduce_sum(
            torch.tensor([self.n, *(self.sums[k] for k in keys)], dtype=torch.float64)
        ).tolist()
        return {k: s / max(totals[0], 1.0) for k, s in zip(keys, totals[1:], strict=True)}

    def state_dict(self) -> dict[str, Any]:
        return {"n": self.n, "sums": dict(self.sums)}
