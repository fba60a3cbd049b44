"""The README's reliability table is the corpus' own parametrisation, row for row."""

from __future__ import annotations

from tests.reliability.table import README, collected, readme_table, render


def test_readme_table_is_generated_from_the_corpus():
    cases = collected()
    assert len(cases) >= 19  # the issue's own failures are the floor
    assert readme_table(README.read_text()) == render(cases), (
        "README.md's reliability table is stale: run python -m tests.reliability.table --write"
    )
