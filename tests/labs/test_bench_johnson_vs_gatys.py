"""The Johnson-vs-Gatys bench at toy sizes: rows as documented, ratios computed from them."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from labs import bench_johnson_vs_gatys as bench
from shared.cli import default_of
from style_transfer.gatys.config import GatysConfig
from style_transfer.gatys.run import settings_for


@pytest.fixture(autouse=True)
def _one_thread_no_user_models(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))  # no registered model: random init
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def test_iterations_to_within_finds_first_loss_near_the_lowest():
    assert bench.iterations_to_within([10.0, 5.0, 2.0, 1.005, 1.0, 1.2]) == 4
    assert bench.iterations_to_within([10.0, 5.0, 2.0, 1.02, 1.0], tolerance=0.01) == 5
    assert bench.iterations_to_within([3.0]) == 1


def test_gatys_settings_are_the_stylize_commands():
    request = bench.gatys_request(300, None)
    config, network = settings_for(request)
    assert (request.method, network.backbone, config.optimizer) == ("gatys", "auto", "lbfgs")
    assert config.iters == default_of(GatysConfig, "iters")
    assert tuple(config.scales) == (300,)
    assert settings_for(bench.gatys_request(300, 7))[0].iters == 7


def test_measure_rows_and_ratios():
    rows, info = bench.measure((64, 80), iters=3, repeats=2, progress=False)
    assert [r.size for r in rows] == [64, 80]
    assert info["johnson"] == "starry model (starry.safetensors)"  # the shipped one
    assert info["threads"] == "1"
    for r in rows:
        assert max(r.height, r.width) == r.size
        assert r.gatys_iters == 3 and 1 <= r.converged_iters <= 3
        assert 0 < r.converged_s <= r.gatys_s
        assert r.johnson_s > 0
        assert r.speedup == pytest.approx(r.gatys_s / r.johnson_s)
        assert r.converged_speedup == pytest.approx(r.converged_s / r.johnson_s)
        assert r.loss_best <= r.loss_first
        assert all(isinstance(v, int | float) for v in dataclasses.astuple(r))
    table = bench.format_table(rows).splitlines()
    assert len(table) == 2 + len(rows)
    assert table[2].startswith(f"| {rows[0].width}x{rows[0].height} | 3 |")


def test_bench_suite_call_uses_the_default_sizes_and_iterations():
    # labs.bench calls main() with no arguments, whatever its own command line holds.
    args = bench.parse_args([])
    assert (tuple(args.sizes), args.iters) == (bench.SIZES, None)
    args = bench.parse_args(["--sizes", "256", "--iters", "600"])
    assert (args.sizes, args.iters) == ([256], 600)
