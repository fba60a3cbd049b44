"""``make bench ARGS=...``: which benches a name picks, and where the options go."""

from __future__ import annotations

import types

import pytest

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
    assert len(err) == 1 and err[0].startswith("bench: error: nothing matches")


def test_names_end_at_the_first_option() -> None:
    assert bench.split_argv(["johnson", "--reference", "x", "y"]) == (
        ["johnson"],
        ["--reference", "x", "y"],
    )
    assert bench.split_argv(["gatys", "johnson"]) == (["gatys", "johnson"], [])
    assert bench.split_argv(["--list"]) == (["--list"], [])
    assert bench.split_argv([]) == ([], [])


def test_options_go_to_every_bench_named(monkeypatch) -> None:
    seen = []
    fake = {
        "bench_a": types.SimpleNamespace(main=lambda argv=None: seen.append(("a", argv))),
        "bench_b": types.SimpleNamespace(main=lambda argv=None: seen.append(("b", argv))),
    }
    monkeypatch.setattr(bench, "benches", lambda: sorted(fake))
    monkeypatch.setattr(bench.importlib, "import_module", lambda name: fake[name.split(".")[1]])
    assert bench.main(["a", "b", "--sizes", "16"]) == 0
    assert seen == [("a", ["--sizes", "16"]), ("b", ["--sizes", "16"])]


def test_options_for_a_bench_without_any_are_one_line(monkeypatch, capsys) -> None:
    fake = {"bench_plain": types.SimpleNamespace(main=lambda: pytest.fail("must not run"))}
    monkeypatch.setattr(bench, "benches", lambda: sorted(fake))
    monkeypatch.setattr(bench.importlib, "import_module", lambda name: fake[name.split(".")[1]])
    assert bench.main(["plain", "--reference", "x"]) == 2
    (line,) = capsys.readouterr().err.splitlines()
    assert line == "bench: error: bench_plain take(s) no options; run it without --reference"


def test_list_names_every_bench(capsys) -> None:
    assert bench.main(["--list"]) == 0
    assert capsys.readouterr().out.split() == [n.removeprefix("bench_") for n in bench.benches()]
