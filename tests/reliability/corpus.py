"""The reliability corpus: every hostile input and fault the suite tries, and what a user gets.

Each test in ``tests/reliability/`` is parametrised with :func:`case`, which records the input
path, what was tried and what the user gets. The README's reliability table is generated from
these records (``python -m tests.reliability.table --write``), and ``test_table.py`` fails when
the README and the parametrisation disagree, so the table can never claim a case the suite does
not run.
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest

REGISTRY: list[Case] = []


@dataclass(frozen=True)
class Case:
    command: str  # the input path, as the user types it: "retinopathy train", "make stylize"
    tried: str  # the input class or the fault
    user_gets: str  # the outcome: the message's words, and what is kept or written
    message: str | None = None  # a regex the one-line error (or warning) must match
    # the test file that declares it: the table follows the files, whatever imported them first
    source: str = field(default="", compare=False)

    def matches(self, text: str) -> bool:
        return self.message is None or re.search(self.message, text) is not None


def case(
    command: str, tried: str, user_gets: str, *values: object, message: str | None = None, id: str
) -> pytest.param:
    """One parametrisation entry, recorded for the README: ``pytest.param(Case, *values)``."""
    entry = Case(
        command, tried, user_gets, message, Path(sys._getframe(1).f_globals["__file__"]).name
    )
    REGISTRY.append(entry)
    return pytest.param(entry, *values, id=id)


def one_line_error(stderr: str, entry: Case) -> str:
    """The single error line of a failed command, checked against the case: no traceback, no
    second line, the expected words."""
    lines = [line for line in stderr.splitlines() if line.strip()]
    errors = [line for line in lines if ": error: " in line]
    assert "Traceback" not in stderr, stderr
    assert len(errors) == 1, f"expected one error line, got:\n{stderr}"
    assert entry.matches(errors[0]), f"{errors[0]!r} does not match {entry.message!r}"
    return errors[0]
