"""DDP helpers for ``torchrun`` and a weighted sampler that works across ranks.

    torchrun --nproc_per_node 2 -m retinopathy train ...
    torchrun --nproc_per_node 2 -m retinopathy predict --run-dir RUN PHOTOS

Rank 0 alone logs, plots and writes checkpoints; every rank trains. Work on a list (photos to
grade, prepare or stylise) is split with :func:`my_share` and merged back with
:func:`in_input_order` (both at once, failures shared: :func:`map_shared`);
a decision only one process may take (a run folder's timestamped name) is taken by
:func:`on_main` and shared.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Iterator, Sequence
from typing import Any, TypeVar

import torch
import torch.distributed as dist
from torch import nn
from torch.utils.data import Sampler

from shared.errors import UserError

T = TypeVar("T")
R = TypeVar("R")


def is_distributed() -> bool:
    return dist.is_available() and dist.is_initialized()


def rank() -> int:
    return dist.get_rank() if is_distributed() else 0


def world_size() -> int:
    return dist.get_world_size() if is_distributed() else 1


def is_main_process() -> bool:
    return rank() == 0


def launched_by_torchrun() -> bool:
    return "RANK" in os.environ and "WORLD_SIZE" in os.environ


def init_distributed(device: torch.device) -> bool:
    """Join the process group ``torchrun`` describes in the environment; False when not launched so.

    nccl on CUDA, gloo otherwise.
    """
    if not launched_by_torchrun() or is_distributed():
        return is_distributed()
    backend = "nccl" if device.type == "cuda" else "gloo"
    if device.type == "cuda":
        torch.cuda.set_device(device)
    dist.init_process_group(backend=backend)
    return True


def local_world_size() -> int:
    """The ranks on this machine (``torchrun --nproc_per_node``); 1 without DDP."""
    return int(os.environ.get("LOCAL_WORLD_SIZE", "1")) if is_distributed() else 1


def shutdown() -> None:
    """Leave the process group, if this process joined one (no barrier: a rank may have failed)."""
    if is_distributed():
        dist.destroy_process_group()


def cleanup() -> None:
    if is_distributed():
        dist.barrier()
        dist.destroy_process_group()


def barrier() -> None:
    if is_distributed():
        dist.barrier()


def all_reduce_sum(tensor: torch.Tensor) -> torch.Tensor:
    """Sum ``tensor`` over ranks in place (identity without DDP)."""
    if is_distributed():
        dist.all_reduce(tensor, op=dist.ReduceOp.SUM)
    return tensor


def all_gather_object(obj: Any) -> list[Any]:
    """Every rank's ``obj``, in rank order (``[obj]`` without DDP). Pickles: keep it small/CPU."""
    if not is_distributed():
        return [obj]
    out: list[Any] = [None] * world_size()
    dist.all_gather_object(out, obj)
    return out


def on_main(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """``fn(*args, **kwargs)`` run on rank 0 alone, its result handed to every rank.

    For what must happen once (make a timestamped folder, read the clock): every rank gets the
    same answer, and a failure on rank 0 is raised on every rank instead of leaving the others
    waiting. ``fn`` must not itself wait for the other ranks. The result is pickled: keep it
    small.
    """
    if not is_distributed():
        return fn(*args, **kwargs)
    outcome: list[Any] = [None]
    error: BaseException | None = None
    if is_main_process():
        try:
            outcome[0] = (fn(*args, **kwargs), None)
        except Exception as exc:
            error = exc
            shared = exc if isinstance(exc, UserError) else RuntimeError(f"rank 0 failed: {exc!r}")
            outcome[0] = (None, shared)
    dist.broadcast_object_list(outcome, src=0)
    value, failure = outcome[0]
    if error is not None:
        raise error
    if failure is not None:
        raise failure
    return value


def broadcast_buffers(model: nn.Module, src: int = 0) -> None:
    """Copy rank ``src``'s buffers (BatchNorm running statistics) to every rank.

    DDP keeps parameters in step but each rank updates its own running statistics; after this
    every rank holds the model rank 0 checkpoints.
    """
    if is_distributed():
        for buf in model.buffers():
            dist.broadcast(buf, src)


def my_share(
    items: Sequence[T], *, num_replicas: int | None = None, rank: int | None = None
) -> list[T]:
    """This rank's items of a list every rank holds in the same order: ``r, r + W, r + 2W``...

    Strided, so photos sorted by size or folder spread evenly, and nothing is padded or doubled.
    """
    n = world_size() if num_replicas is None else num_replicas
    r = globals()["rank"]() if rank is None else rank
    return list(items[r::n])


def batch_ranges(length: int, batch_size: int) -> list[range]:
    """``range(length)`` cut into consecutive batches: the batches one process would run.

    Sharding these batches (:func:`my_share`), not the items, keeps every batch as one process
    computes it, so the outputs do not depend on the number of ranks.
    """
    return [range(i, min(i + batch_size, length)) for i in range(0, length, batch_size)]


def in_input_order(shares: Sequence[Sequence[T]]) -> list[T]:
    """Rank-ordered shares from :func:`my_share` (e.g. through :func:`all_gather_object`) back
    in the order of the list they were taken from."""
    n = len(shares)
    total = sum(len(s) for s in shares)
    return [shares[i % n][i // n] for i in range(total)]


def map_shared(work: Callable[[T], R], items: Sequence[T]) -> list[R]:
    """``work`` over this rank's share of ``items`` (:func:`my_share`, in order), and every
    rank's results back on every rank in the order of ``items``; without DDP, a plain map.

    A failure on one rank is raised on every rank once each has done its share, so none is left
    waiting for the others: the failing rank raises its own exception, the others a
    :class:`UserError` with its message (anything else: a RuntimeError naming the rank). The
    results are pickled: keep them small.
    """
    if not is_distributed():
        return [work(item) for item in items]
    error: Exception | None = None
    try:
        outcome: tuple[Any, Any] = ([work(item) for item in my_share(items)], None)
    except Exception as exc:
        error = exc
        outcome = (None, (isinstance(exc, UserError), str(exc) or repr(exc)))
    gathered = all_gather_object(outcome)
    if error is not None:
        raise error
    for r, (_, failure) in enumerate(gathered):
        if failure is not None:
            user, message = failure
            raise UserError(message) if user else RuntimeError(f"rank {r} failed: {message}")
    return in_input_order([results for results, _ in gathered])


class ShardSampler(Sampler[int]):
    """Rank ``r`` takes items ``r, r + W, r + 2W, ...``: no padding, so no item counts twice.

    For evaluation, where :class:`~torch.utils.data.DistributedSampler`'s padding would
    duplicate items in the metrics. Gathered in rank order, item ``i`` sits at rank ``i % W``,
    position ``i // W``.
    """

    def __init__(self, length: int, *, num_replicas: int | None = None, rank: int | None = None):
        self.length = length
        self.num_replicas = world_size() if num_replicas is None else num_replicas
        self.rank = globals()["rank"]() if rank is None else rank

    def __iter__(self) -> Iterator[int]:
        return iter(range(self.rank, self.length, self.num_replicas))

    def __len__(self) -> int:
        return len(range(self.rank, self.length, self.num_replicas))


class WeightedDistributedSampler(Sampler[int]):
    """Weighted sampling with replacement, split across DDP ranks.

    Every rank draws the same global weighted sample from a generator seeded by
    ``(seed, epoch)`` and keeps its own strided share, so the ranks together see one
    weighted sample of ``num_samples`` indices, a fresh one each epoch (call
    :meth:`set_epoch`). Without DDP it is a seeded ``WeightedRandomSampler``.
    """

    def __init__(
        self,
        weights: Sequence[float] | torch.Tensor,
        num_samples: int | None = None,
        *,
        num_replicas: int | None = None,
        rank: int | None = None,
        seed: int = 0,
    ) -> None:
        self.weights = torch.as_tensor(weights, dtype=torch.double)
        if self.weights.ndim != 1 or len(self.weights) == 0:
            raise ValueError("weights must be a non-empty 1-D sequence")
        if (self.weights < 0).any() or not torch.isfinite(self.weights).all():
            raise ValueError("weights must be finite and non-negative")
        if self.weights.sum() <= 0:
            raise ValueError("at least one weight must be positive")
        self.num_replicas = world_size() if num_replicas is None else num_replicas
        self.rank = globals()["rank"]() if rank is None else rank
        total = len(self.weights) if num_samples is None else num_samples
        self.num_samples = math.ceil(total / self.num_replicas)
        self.total_size = self.num_samples * self.num_replicas
        self.seed = seed
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __iter__(self) -> Iterator[int]:
        g = torch.Generator()
        g.manual_seed(self.seed + self.epoch)
        draws = torch.multinomial(self.weights, self.total_size, replacement=True, generator=g)
        return iter(draws[self.rank : self.total_size : self.num_replicas].tolist())

    def __len__(self) -> int:
        return self.num_samples
