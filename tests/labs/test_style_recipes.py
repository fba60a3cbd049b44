"""The style-recipe lab: candidates trained, measured beside the shipped model, one chosen."""

from __future__ import annotations

import re
from pathlib import Path

import tomllib

from labs.runners import style_recipes
from labs.runners.style_recipes import SHIPPED, Score, choose

RECIPE = Path(__file__).resolve().parents[2] / "labs" / "style_recipes.toml"


def test_the_largest_style_image_among_the_near_best_is_chosen() -> None:
    scores = [
        Score("s", SHIPPED, 0.60, 0.90, 300.0, "a", 192),
        Score("s", "bold", 0.59, 1.20, 300.0, "b", 512),  # as far, but loses the photo
        Score("s", "larger", 0.58, 0.92, 300.0, "c", 384),
        Score("s", "faint", 0.40, 0.85, 300.0, "d", 768),  # keeps the photo, barely styled
    ]
    assert choose(scores, share_tolerance=0.03, content_tolerance=0.03).candidate == "larger"
    assert [s.chosen for s in scores] == [False, False, True, False]
    again = [Score("s", SHIPPED, 0.6, 0.9, None, "", 192), Score("s", "x", 0.5, 0.9, None, "", 384)]
    assert choose(again, 0.03, 0.03).candidate == SHIPPED  # nothing near: keep what ships


def test_a_smoke_run_trains_every_candidate_and_a_rerun_reuses_them(tmp_path: Path) -> None:
    recipe = tomllib.loads(RECIPE.read_text())
    recipe.update(name="style_recipes", quick=True)
    names = [SHIPPED, *(c["name"] for c in recipe["candidates"])]
    text = style_recipes.run(recipe, tmp_path).read_text()
    assert text.startswith("# style_recipes (smoke run, --quick")
    rows = re.findall(
        r"\| starry \| ([\w-]+) \| (\d+) \| \d* \| (-?\d+)% \| ([\d.]+) \| (yes)? \|", text
    )
    assert [r[0] for r in rows] == names
    assert sum(r[4] == "yes" for r in rows) == 1
    assert all(0 < float(r[3]) < 2 for r in rows)
    models = sorted((tmp_path / "models").glob("*.safetensors"))
    assert [m.name for m in models] == sorted(f"starry-{n}.safetensors" for n in names[1:])
    chosen = next(r for r in rows if r[4])
    assert "- starry: `python -m style_transfer train --style starry" in text
    shipped = rows[0]
    assert float(chosen[3]) <= float(shipped[3]) + recipe["content_tolerance"]
    assert int(chosen[2]) >= max(int(r[2]) for r in rows) - 100 * recipe["share_tolerance"] - 1
    stamps = [m.stat().st_mtime_ns for m in models]
    assert style_recipes.run(recipe, tmp_path).read_text() == text  # measured again, not retrained
    assert [m.stat().st_mtime_ns for m in models] == stamps
    assert (tmp_path / "sheet.png").stat().st_size > 10_000
