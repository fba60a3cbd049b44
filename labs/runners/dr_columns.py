"""The columns a retinopathy recipe can add to its table, read from each run's test metrics.

A recipe names them in ``columns = [...]`` (top level), in the order they should appear after
the standard ones:

- ``qwk_ci``: the test QWK's 95% patient-bootstrap interval;
- ``cut_points``: a scored head's test QWK with the midpoint cut points, then with the cut
  points tuned on validation (``-`` for the classify head, which has none);
- ``operating_points``: test sensitivity / specificity of referable DR at the two points chosen
  on validation (high specificity, then high sensitivity);
- ``pointing_game``: the share of test photos of grade >= 1 whose heat map peaks on a drawn
  lesion, with a random point's rate in brackets.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from retinopathy.operating_points import HIGH_SENSITIVITY, HIGH_SPECIFICITY
from shared.errors import UserError

Record = dict[str, Any]  # a run's test_metrics.json


def _qwk_ci(record: Record) -> str:
    lo, hi = record.get("ci95", {}).get("qwk", (None, None))
    return "-" if lo is None else f"{lo:.2f}-{hi:.2f}"


def _cut_points(record: Record) -> str:
    rows = (record.get("cut_points") or {}).get("rows", {})
    if "tuned" not in rows:
        return "-"
    return f"{rows['midpoints']['test_qwk']:.3f} -> {rows['tuned']['test_qwk']:.3f}"


def _point(name: str) -> Callable[[Record], str]:
    def cell(record: Record) -> str:
        point = record.get("operating_points", {}).get(name)
        if point is None:
            return "-"
        return f"{point['sensitivity']:.2f} / {point['specificity']:.2f}"

    return cell


def _pointing_game(record: Record) -> str:
    game = record.get("pointing_game")
    if not game:
        return "-"
    return f"{game['rate']:.2f} ({game['baseline']:.2f})"


COLUMNS: dict[str, list[tuple[str, Callable[[Record], str]]]] = {
    "qwk_ci": [("QWK 95% CI", _qwk_ci)],
    "cut_points": [("QWK midpoints -> tuned", _cut_points)],
    "operating_points": [
        ("referable sens / spec, high-spec point", _point(HIGH_SPECIFICITY)),
        ("referable sens / spec, high-sens point", _point(HIGH_SENSITIVITY)),
    ],
    "pointing_game": [("pointing game (random)", _pointing_game)],
}


def extra_columns(names: list[str]) -> list[tuple[str, Callable[[Record], str]]]:
    """The (header, cell) pairs of the named columns; an unknown name is a UserError."""
    unknown = [n for n in names if n not in COLUMNS]
    if unknown:
        raise UserError(f"unknown column {unknown[0]!r}; choose from {', '.join(COLUMNS)}")
    return [column for name in names for column in COLUMNS[name]]
