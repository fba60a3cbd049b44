"""The data of one run: the prepared photos, its split and the three datasets.

    data = RunData.build(config)              # a new run: makes the split ...
    data.save_split(run_dir)                  # ... and keeps it as split.csv
    data = RunData.build(config, run_dir)     # later (resume, evaluate): reloads that split

Everything comes from the run's config, so a resumed run and ``evaluate`` see exactly the
photos, split and normalisation that training saw.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from retinopathy.data.augment import eval_transform, train_transform
from retinopathy.data.cache import PreparedSet, prepare
from retinopathy.data.dataset import FundusDataset
from retinopathy.data.sources import load_source
from retinopathy.data.splits import (
    SPLITS,
    load_split,
    make_split,
    require_all_classes,
    save_split,
    split_ids,
)
from retinopathy.data.synthetic import default_root, generate
from retinopathy.tasks import Task, get_task

SYNTHETIC = "synthetic"
SPLIT_FILE = "split.csv"


def open_prepared(config: dict[str, Any], progress: bool = True) -> PreparedSet:
    """Read (or generate) the dataset and preprocess it into the cache, reusing what is there."""
    cache = config.get("cache")
    if config["data"] == SYNTHETIC:
        n, size = config["synthetic_images"], config.get("synthetic_size", 512)
        root = generate(
            default_root(n, size=size, cache_dir=cache),
            n_images=n,
            size=size,
            workers=config.get("workers"),
            progress=progress,
        )
        source = load_source(root, "eyepacs")
    else:
        source = load_source(config["data"], config.get("format"))
    return prepare(
        source.records,
        config["image_size"],
        config["mode"],
        cache,
        config.get("workers"),
        storage=config.get("storage", "npy"),
        rejected=source.rejected,
        progress=progress,
    )


def _make_split(prepared: PreparedSet, task: Task, config: dict[str, Any]) -> pd.DataFrame:
    # Grades a coarser task merges need not each appear on every side; the task's classes must.
    classes = range(5) if task.name == "grade5" else ()
    split = make_split(
        prepared.records,
        test_size=config["test_size"],
        val_size=config["val_size"],
        seed=config["split_seed"],
        classes=classes,
    )
    split["class"] = task.map_grades(split["grade"])
    require_all_classes(split, range(task.num_classes), column="class")
    return split.drop(columns="class")


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
    def build(
        cls, config: dict[str, Any], run_dir: Path | None = None, progress: bool = True
    ) -> RunData:
        """The run's data; with ``run_dir``, its saved split (which must exist), else a new one."""
        task = get_task(config["task"])
        prepared = open_prepared(config, progress)
        if run_dir is not None:
            split = load_split(Path(run_dir) / SPLIT_FILE)
        else:
            split = _make_split(prepared, task, config)
        mean, std = prepared.channel_stats(split_ids(split, "train"))
        size = config["image_size"]
        augment = train_transform(size, mean, std) if config["augment"] else None
        plain = eval_transform(size, mean, std)
        target = task.grade_to_class.__getitem__

        def dataset(side: str, transform) -> FundusDataset:
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

    def patients(self, side: str) -> list[str | None]:
        rows = self.split[self.split["split"] == side]
        return [None if pd.isna(p) else str(p) for p in rows["patient"]]
