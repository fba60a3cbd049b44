"""``make bench ARGS=...``: which benches a name picks."""

from __future__ import annotations

from labs import bench


def test_every_bench_without_a_name() -> None:
    assert bench.select([]) == bench.benches()
    assert {"bench_johnson", "bench_johnson_vs_gatys", "bench_gatys"} <= set(bench.select([]))


def test_an_exact_name_picks_that_bench_alone() -> None:
    assert bench.select(["johnson"]) == ["bench_johnson"]
    assert bench.select(["bench_johnson"]) == ["bench_johnson"]
    assert bench.select(["gatys"]) == ["bench_gatys"]


def test_a_part_of_a_name_picks_every_match() -> None:
    assert bench.select(["johnson_vs"]) == ["bench_johnson_vs_gatys"]
    assert bench.select(["john"]) == ["bench_johnson", "bench_johnson_vs_gatys"]
    assert bench.select(["nothing"]) == []


def test_unknown_name_is_one_line_and_status_2(capsys) -> None:
    assert bench.main(["nothing"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("bench: nothing matches")
