"""A torch Dataset over a prepared (cached) set: training never opens the full-size photos.

    from retinopathy.data.dataset import FundusDataset
    train = FundusDataset(prepared, prepared.indices(split_ids(split, "train")), transform=tf)
    image, label = train[0]          # float CxHxW normalised, int grade (or target_transform's)
    train.record(0).id               # which photo that was

Bad photos were excluded by ``prepare``. If a cached file disappears or is damaged later, the
photo is preprocessed again from its original (and the cache entry rewritten); if that fails
too, a photo of the same class stands in and a warning is logged once, so an epoch never dies
on one file.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset

from retinopathy.data.prepared import PreparedSet, read_item, storage_of, write_item
from retinopathy.data.preprocess import BadImage, load_and_preprocess
from retinopathy.data.sources import Record
from retinopathy.data.workers import init_worker

log = logging.getLogger(__name__)


class FundusDataset(Dataset):
    """Photos ``indices`` of ``prepared`` (default: all) as ``(image, label)`` pairs."""

    # For the engine's loaders (shared.engine.data_order). Torch makes each loader worker
    # single-threaded, but not OpenCV (a JPEG item's decode, the augmentation's warp, resize
    # and colour tables), whose pool would start a thread per core in every worker: workers x
    # cores threads contending for the cores.
    worker_init_fn = staticmethod(init_worker)

    def __init__(
        self,
        prepared: PreparedSet,
        indices: Sequence[int] | None = None,
        transform: Callable[[torch.Tensor], torch.Tensor] | None = None,
        target_transform: Callable[[int], int] | None = None,
    ) -> None:
        self.prepared = prepared
        self.indices = list(range(len(prepared)) if indices is None else indices)
        self.transform = transform
        self.target_transform = target_transform
        self._warned: set[int] = set()

    def __len__(self) -> int:
        return len(self.indices)

    def record(self, i: int) -> Record:
        return self.prepared.records[self.indices[i]]

    def photo(self, i: int) -> np.ndarray:
        """Photo ``i`` as the cache holds it (HWC uint8, preprocessed, not transformed)."""
        return self._load(self.indices[i])

    @property
    def ids(self) -> list[str]:
        return [self.prepared.records[j].id for j in self.indices]

    @property
    def labels(self) -> list[int]:
        grades = [self.prepared.records[j].grade for j in self.indices]
        return [self.target_transform(g) for g in grades] if self.target_transform else grades

    def _warn(self, j: int, message: str) -> None:
        if j not in self._warned:
            self._warned.add(j)
            log.warning(message)

    def _rebuild(self, j: int) -> np.ndarray:
        """Preprocess photo ``j`` again from its original and put it back in the cache."""
        record, target = self.prepared.records[j], Path(self.prepared.files[j])
        image = load_and_preprocess(record.path, self.prepared.size, self.prepared.mode)
        write_item(target, image, storage_of(target))
        return image

    def _stand_in(self, j: int) -> np.ndarray:
        """Another readable cached photo of the same grade (or any grade, if none)."""
        grade = self.prepared.records[j].grade
        candidates = [k for k in self.indices if k != j]
        candidates.sort(key=lambda k: self.prepared.records[k].grade != grade)
        for k in candidates:
            try:
                return read_item(self.prepared.files[k])
            except (OSError, ValueError):
                continue
        raise RuntimeError("no readable photo left in the cache; run prepare again")

    def _load(self, j: int) -> np.ndarray:
        try:
            return read_item(self.prepared.files[j])
        except (OSError, ValueError, EOFError) as exc:
            record = self.prepared.records[j]
            self._warn(j, f"cached photo of {record.id} unreadable ({exc}); preprocessing again")
        try:
            return self._rebuild(j)
        except (BadImage, OSError) as exc:
            self._warn(-1 - j, f"{record.id}: original unusable too ({exc}); using a stand-in")
            return self._stand_in(j)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, int]:
        j = self.indices[i]
        image = torch.from_numpy(self._load(j)).permute(2, 0, 1)
        if self.transform is not None:
            image = self.transform(image)
        label = self.prepared.records[j].grade
        if self.target_transform is not None:
            label = self.target_transform(label)
        return image, label
