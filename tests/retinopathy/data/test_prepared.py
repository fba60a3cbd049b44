"""A prepared set read back: channel statistics, both storages, and reopening it from its index."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from retinopathy.data.cache import prepare_records
from retinopathy.data.prepared import open_prepared, read_item
from retinopathy.data.sources import load_source
from shared.errors import UserError
from tests.retinopathy.fundus_data import write_eyepacs


def test_channel_stats_equal_direct_computation_and_are_stored(tmp_path: Path) -> None:
    root = write_eyepacs(tmp_path / "eyepacs", {f"{p}_left": p % 5 for p in range(5)})
    prepared = prepare_records(
        load_source(root).records, 32, cache_dir=tmp_path / "c", progress=False
    )
    ids = [r.id for r in prepared.records[:3]]
    mean, std = prepared.channel_stats(ids)
    pixels = np.concatenate([prepared.load(i).reshape(-1, 3) for i in range(3)]) / 255
    np.testing.assert_allclose(mean, pixels.mean(axis=0), atol=1e-5)
    np.testing.assert_allclose(std, pixels.std(axis=0), atol=1e-5)
    stored = list((prepared.folder / "stats").glob("*.json"))
    assert len(stored) == 1 and json.loads(stored[0].read_text())["count"] == 3
    with pytest.raises(UserError, match="not in the prepared set"):
        prepared.channel_stats(["nobody"])


def test_jpeg_storage_round_trip(tmp_path: Path) -> None:
    root = write_eyepacs(tmp_path / "eyepacs", {"1_left": 0, "1_right": 2})
    records = load_source(root).records
    raw = prepare_records(records, 64, cache_dir=tmp_path / "c", progress=False)
    small = prepare_records(records, 64, cache_dir=tmp_path / "c", storage="jpeg", progress=False)
    assert small.files[0].suffix == ".jpg"
    assert np.abs(read_item(small.files[0]).astype(int) - raw.load(0)).mean() < 3


def test_reopened_set_matches_and_needs_no_originals(tmp_path: Path) -> None:
    root = write_eyepacs(tmp_path / "eyepacs", {"4_left": 1, "4_right": 1, "9_left": 3, "solo": 0})
    prepared = prepare_records(load_source(root).records, 40, cache_dir=tmp_path / "c")
    shutil.move(root, tmp_path / "elsewhere")
    reopened = open_prepared(prepared.folder, 40, "crop")
    assert reopened.records == prepared.records  # ids, grades, patients, eyes, paths
    assert reopened.files == prepared.files
    for i in range(len(reopened)):
        assert np.array_equal(reopened.load(i), prepared.load(i))
    with pytest.raises(UserError, match="no prepared set"):
        open_prepared(tmp_path / "nothing", 40, "crop")
