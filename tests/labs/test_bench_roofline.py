"""The roofline bench: its operation counts are the textbook ones, and its rows are measured."""

from __future__ import annotations

import torch
from torch import nn

from labs import bench_roofline
from shared.precision import DTYPES


def test_flop_count_of_a_convolution_is_two_per_multiply_add():
    conv = nn.Conv2d(8, 16, 3, padding=1)
    x = torch.rand(2, 8, 20, 20)
    # every output value: 8 input channels x 3 x 3 taps, one multiply and one add each
    assert bench_roofline.count_flops(lambda: conv(x)) == 2 * 2 * 16 * 20 * 20 * 8 * 9


def test_johnson_rows_count_the_same_work_in_both_precisions():
    rows = bench_roofline.johnson_rows(repeats=1, sizes=(64,), compiled=False)
    assert [r.dtype for r in rows] == [DTYPES["fp32"], DTYPES["bf16"]]
    assert [r.workload for r in rows] == ["Johnson forward 64 px"] * 2
    assert rows[0].flops == rows[1].flops > 1e8
    assert all(r.seconds > 0 and r.gflops > 0 for r in rows)


def test_table_gives_each_workload_its_share_of_the_same_precision_peak(capsys):
    rows = [bench_roofline.Row("work", DTYPES["bf16"], seconds=2.0, flops=400e9)]
    bench_roofline.print_table(rows, {DTYPES["bf16"]: 400.0}, {DTYPES["bf16"]: 800.0})
    assert "| work | bf16 | 2.000 | 400.0 | 200 | 50% | 25% |" in capsys.readouterr().out
