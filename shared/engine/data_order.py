"""Data order and augmentation that depend only on the run's seed and position: exact resume.

- the epoch's order is a function of ``(seed, epoch)`` alone (``DistributedSampler`` or
  :class:`~shared.distributed.WeightedDistributedSampler`, ``set_epoch`` each epoch);
- each batch is loaded with torch's, Python's and numpy's global generators seeded from
  ``(seed, epoch, rank, batch)``, in whichever worker process loads it; so a dataset must draw its
  random augmentation from those global generators (torchvision v2 transforms do), not from a
  generator of its own;
- a resumed epoch starts its sampler at the first batch not yet trained on, without loading the
  batches before it.

A dataset whose worker processes need setting up (an image library's own thread pool) says so
with a ``worker_init_fn(worker_id)`` attribute, which :func:`seeded_loader` hands its loader.

Loading in the main process (``num_workers=0``) puts torch's CPU generator back afterwards, so
the training step's own randomness (dropout) does not depend on ``num_workers``. Python's and
numpy's are left as loading leaves them (putting numpy's back costs ~0.5 ms a batch): a step
function should draw its randomness from torch. Either way a resumed run repeats the original.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import torch
from torch.utils.data import DataLoader, Dataset, DistributedSampler, Sampler, get_worker_info

from shared.distributed import ShardSampler, WeightedDistributedSampler
from shared.rng import mix_seed, seed_batch


class ResumableSampler(Sampler[tuple[int, int]]):
    """Yields ``(index, batch_seed)``: ``base``'s order for the epoch, one seed per batch.

    ``set_epoch(epoch, start_batch)`` picks the epoch (forwarded to ``base``) and skips the
    batches already trained on. Seeds depend on ``(seed, epoch, rank, stream, batch)`` only.
    """

    def __init__(
        self, base: Sampler[int], *, batch_size: int, seed: int, rank: int = 0, stream: int = 0
    ) -> None:
        self.base, self.batch_size, self.seed = base, batch_size, seed
        self.rank, self.stream = rank, stream
        self.epoch, self.start_batch = 0, 0

    def set_epoch(self, epoch: int, start_batch: int = 0) -> None:
        self.epoch, self.start_batch = epoch, start_batch
        if hasattr(self.base, "set_epoch"):
            self.base.set_epoch(epoch)

    def __iter__(self):
        order = list(self.base)
        n_batches = -(-len(order) // self.batch_size)
        g = torch.Generator().manual_seed(mix_seed(self.seed, self.epoch, self.rank, self.stream))
        seeds = torch.randint(0, 2**32, (n_batches,), generator=g).tolist()
        for pos in range(self.start_batch * self.batch_size, len(order)):
            yield order[pos], seeds[pos // self.batch_size]

    def __len__(self) -> int:
        return max(len(self.base) - self.start_batch * self.batch_size, 0)  # type: ignore[arg-type]


class SeededDataset(Dataset):
    """Loads the ``(index, seed)`` keys of :class:`ResumableSampler` with the generators seeded.

    Torch's, Python's and numpy's global generators are seeded once per batch (one DataLoader
    fetch), so the batch's augmentation is the same whichever process loads it, and when.
    """

    def __init__(self, dataset: Dataset) -> None:
        self.dataset = dataset

    def __len__(self) -> int:
        return len(self.dataset)  # type: ignore[arg-type]

    def __getitems__(self, keys: Sequence[tuple[int, int]]) -> list[Any]:
        saved = torch.get_rng_state() if get_worker_info() is None else None
        seed_batch(keys[0][1])
        try:
            return [self.dataset[index] for index, _ in keys]
        finally:
            if saved is not None:
                torch.set_rng_state(saved)

    def __getitem__(self, key: tuple[int, int]) -> Any:
        return self.__getitems__([key])[0]


def epoch_sampler(
    data: Dataset, weights: Any, *, num_replicas: int, rank: int, seed: int
) -> Sampler[int]:
    """The epoch's order: weighted with replacement when ``weights`` are given, else shuffled."""
    if weights is not None:
        if len(weights) != len(data):  # type: ignore[arg-type]
            raise ValueError("sampler_weights needs one weight per training item")
        return WeightedDistributedSampler(
            weights, len(weights), num_replicas=num_replicas, rank=rank, seed=seed
        )
    return DistributedSampler(data, num_replicas=num_replicas, rank=rank, shuffle=True, seed=seed)


def shard_sampler(
    data: Dataset, *, batch_size: int, num_replicas: int, rank: int, seed: int
) -> ResumableSampler:
    """Evaluation order: each rank its stride of the data, no padding, no item twice."""
    return ResumableSampler(
        ShardSampler(len(data), num_replicas=num_replicas, rank=rank),  # type: ignore[arg-type]
        batch_size=batch_size, seed=seed, rank=rank, stream=1,
    )  # fmt: skip


def seeded_loader(
    data: Dataset,
    sampler: ResumableSampler,
    *,
    batch_size: int,
    num_workers: int,
    seed: int,
    drop_last: bool = False,
    pin_memory: bool = False,
    collate_fn: Callable[[list[Any]], Any] | None = None,
) -> DataLoader:
    """A DataLoader whose batches come out the same in any process, at any time."""
    return DataLoader(
        SeededDataset(data),
        batch_size=batch_size,
        sampler=sampler,
        num_workers=num_workers,
        collate_fn=collate_fn,
        pin_memory=pin_memory,
        drop_last=drop_last,
        persistent_workers=num_workers > 0,
        worker_init_fn=getattr(data, "worker_init_fn", None),
        # Its own generator: creating an iterator must not draw from the global one.
        generator=torch.Generator().manual_seed(seed),
    )
