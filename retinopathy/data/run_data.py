"""The data of one run: its prepared photos, its split and the three datasets.

    data = RunData.split_anew(prepared, config)       # a new run: makes the split ...
    data.save_split(run_dir)                           # ... and keeps it as split.csv
    data = RunData.of_run(prepared, config, run_dir)   # later (resume, evaluate): that split again

A resumed run and ``evaluate`` see exactly the photos, split and normalisation that training saw:
the split from the run's split.csv, the mean and std from its config.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from retinopathy.config import RunConfig
from retinopathy.data.augment import eval_transform, train_transform
from retinopathy.data.dataset import FundusDataset
from retinopathy.data.prepared import PreparedSet
from retinopathy.data.splits import (
    SOURCE,
    SPLITS,
    load_split,
    make_split,
    save_split,
    split_ids,
)
from retinopathy.tasks import Task
from shared.errors import UserError

SPLIT_FILE = "split.csv"


def _make_split(prepared: PreparedSet, config: RunConfig) -> pd.DataFrame:
    """The run's split; of a pool of datasets, each dataset split on its own (by patient, with
    the run's seed and shares), the sides then joined, with a ``source`` column."""

    def split(records: list) -> pd.DataFrame:
        return make_split(
            records,
            test_size=config.test_size,
            val_size=config.val_size,
            seed=config.split_seed,
            task=config.grading,
        )

    if not prepared.sources:
        return split(prepared.records)
    parts = []
    for name in dict.fromkeys(prepared.sources):
        records = [r for r, s in zip(prepared.records, prepared.sources, strict=True) if s == name]
        try:
            parts.append(split(records).assign(source=name))
        except UserError as exc:
            raise UserError(f"dataset {name}: {exc}") from None
    return pd.concat(parts, ignore_index=True)


@dataclass
class RunData:
    prepared: PreparedSet
    split: pd.DataFrame
    task: Task
    mean: list[float]
    std: list[float]
    train: FundusDataset
    val: FundusDataset
    test: FundusDataset

    @classmethod
    def split_anew(cls, prepared: PreparedSet, config: RunConfig) -> RunData:
        """A new run's data: a new split, normalised by its training photos' statistics."""
        split = _make_split(prepared, config)
        if config.fast_dev_run:  # one batch of each split
            split = split.groupby("split", sort=False).head(config.train.batch_size)
        if config.normalize:
            mean, std = prepared.channel_stats(split_ids(split, "train"))
        else:  # recorded like measured statistics, so evaluate and predict follow unchanged
            mean, std = [0.0, 0.0, 0.0], [1.0, 1.0, 1.0]
        return cls._assemble(prepared, split, config, mean, std)

    @classmethod
    def of_run(cls, prepared: PreparedSet, config: RunConfig, run_dir: Path) -> RunData:
        """The data the run in ``run_dir`` trained on: its saved split (which must exist)."""
        split = load_split(Path(run_dir) / SPLIT_FILE)
        if config.mean is None or config.std is None:
            mean, std = prepared.channel_stats(split_ids(split, "train"))
        else:
            mean, std = config.mean, config.std
        return cls._assemble(prepared, split, config, mean, std)

    @classmethod
    def _assemble(
        cls,
        prepared: PreparedSet,
        split: pd.DataFrame,
        config: RunConfig,
        mean: list[float],
        std: list[float],
    ) -> RunData:
        size = config.data.image_size
        augment = train_transform(size, mean, std) if config.augment else None
        plain = eval_transform(size, mean, std)
        task = config.grading
        target = task.grade_to_class.__getitem__

        def dataset(side: str, transform: Callable) -> FundusDataset:
            idx = prepared.indices(split_ids(split, side))
            return FundusDataset(prepared, idx, transform=transform, target_transform=target)

        return cls(
            prepared,
            split,
            task,
            mean,
            std,
            dataset("train", augment or plain),
            dataset("val", plain),
            dataset("test", plain),
        )

    def save_split(self, run_dir: Path) -> Path:
        return save_split(self.split, Path(run_dir) / SPLIT_FILE)

    def counts(self) -> dict[str, list[int]]:
        """Photos per task class on each side of the split."""
        out = {}
        for side in SPLITS:
            grades = self.split.loc[self.split["split"] == side, "grade"]
            classes = self.task.map_grades(grades.to_numpy())
            out[side] = np.bincount(classes, minlength=self.task.num_classes).tolist()
        return out

    def sources(self, side: str) -> list[str] | None:
        """The dataset of each photo on ``side`` (None: the run has one dataset)."""
        if SOURCE not in self.split.columns:
            return None
        return self.split.loc[self.split["split"] == side, SOURCE].astype(str).tolist()

    def patients(self, side: str) -> list[str | None]:
        rows = self.split[self.split["split"] == side]
        return [None if pd.isna(p) else str(p) for p in rows["patient"]]
