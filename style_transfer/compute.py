"""How many CPU threads one style-transfer call computes with, chosen once and given back after.

from style_transfer.compute import cpu_threads
with cpu_threads(None):        # the idle cores (shared.threads.auto_threads); 3: three
    ...
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch

from shared.errors import UserError
from shared.threads import auto_threads


@contextmanager
def cpu_threads(count: int | None) -> Iterator[int]:
    """Torch's intra-op thread count inside the block: ``count``, or by load when None."""
    if count is not None and count < 1:
        raise UserError(f"threads must be at least 1, not {count}")
    before = torch.get_num_threads()
    chosen = count or auto_threads()
    torch.set_num_threads(chosen)
    try:
        yield chosen
    finally:
        torch.set_num_threads(before)
