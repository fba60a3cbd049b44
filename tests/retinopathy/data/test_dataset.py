"""The torch Dataset over a prepared set: items, loading, and surviving a damaged cache file."""

from __future__ import annotations

import logging
from pathlib import Path

import cv2
import pytest
import torch
from torch.utils.data import DataLoader, SequentialSampler

from retinopathy.data.augment import eval_transform
from retinopathy.data.cache import prepare_records
from retinopathy.data.dataset import FundusDataset
from retinopathy.data.sources import load_source
from shared.engine.data_order import ResumableSampler, seeded_loader
from tests.retinopathy.fundus_data import write_eyepacs

MEAN, STD = [0.5, 0.3, 0.2], [0.25, 0.2, 0.1]


@pytest.fixture()
def prepared(tmp_path: Path):
    grades = {f"{p}_{s}": p % 5 for p in range(5) for s in ("left", "right")}
    root = write_eyepacs(tmp_path / "eyepacs", grades, size=80)
    return prepare_records(load_source(root).records, 32, cache_dir=tmp_path / "c", progress=False)


def test_dataset_items_and_loader(prepared) -> None:
    ds = FundusDataset(
        prepared, transform=eval_transform(32, MEAN, STD), target_transform=lambda g: int(g >= 2)
    )
    x, y = ds[3]
    assert x.shape == (3, 32, 32) and x.dtype == torch.float32
    assert y == int(prepared.records[3].grade >= 2)
    assert ds.record(3).id == ds.ids[3]
    batches = list(DataLoader(ds, batch_size=4))
    assert sum(len(b[1]) for b in batches) == len(prepared)


def test_vanished_cache_file_is_rebuilt_then_stood_in(prepared, caplog) -> None:
    ds = FundusDataset(prepared, indices=[0, 5, 2])
    original = ds[1][0].clone()
    prepared.files[5].unlink()
    with caplog.at_level(logging.WARNING):
        rebuilt = ds[1][0]
    assert torch.equal(rebuilt, original) and prepared.files[5].exists()
    assert "preprocessing again" in caplog.text
    prepared.files[5].write_bytes(b"garbage")
    prepared.records[5].path.unlink()
    with caplog.at_level(logging.WARNING):
        stand_in, label = ds[1]
    assert label == prepared.records[5].grade
    assert stand_in.shape == original.shape and "stand-in" in caplog.text


def _opencv_threads(image: torch.Tensor) -> int:
    return cv2.getNumThreads()


def test_opencv_computes_on_one_thread_in_the_engines_loader_workers(prepared) -> None:
    ds = FundusDataset(prepared, indices=[0, 1], transform=_opencv_threads)
    sampler = ResumableSampler(SequentialSampler(ds), batch_size=2, seed=0)
    before = cv2.getNumThreads()
    cv2.setNumThreads(3)  # this process's: a worker would otherwise start with as many
    try:
        (batch,) = seeded_loader(ds, sampler, batch_size=2, num_workers=1, seed=0)
    finally:
        cv2.setNumThreads(before)
    assert batch[0].tolist() == [1, 1]
