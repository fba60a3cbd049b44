"""The style-recipe lab: candidates trained, measured beside the shipped model, one chosen."""

from __future__ import annotations

import re
from pathlib import Path

import tomllib

from labs.runners import style_recipes
from labs.runners.style_recipes import SHIPPED, Score, choose

RECIPE = Path(__file__).resolve().parents[2] / "labs" / "style_recipes.toml"


def test_the_furthest_mover_within_the_content_bound_is_chosen() -> None:
    scores = [
        Score("s", SHIPPED, 0.50, 0.90, 300.0, "a"),
        Score("s", "bold", 0.80, 1.20, 300.0, "b"),  # furthest, but loses the photo
        Score("s", "better", 0.60, 0.95, 300.0, "c"),
    ]
    assert choose(scores, max_content=1.0).candidate == "better"
    assert [s.chosen for s in scores] == [False, False, True]
    fresh = [Score("s", SHIPPED, 0.5, 1.1, None, ""), Score("s", "x", 0.6, 1.2, None, "")]
    assert choose(fresh, max_content=1.0).candidate == SHIPPED  # none within: keep what ships


def test_a_smoke_run_trains_every_candidate_and_a_rerun_reuses_them(tmp_path: Path) -> None:
    recipe = tomllib.loads(RECIPE.read_text())
    recipe.update(name="style_recipes", quick=True)
    names = [SHIPPED, *(c["name"] for c in recipe["candidates"])]
    text = style_recipes.run(recipe, tmp_path).read_text()
    assert text.startswith("# style_recipes (smoke run, --quick")
    rows = re.findall(r"\| starry \| ([\w-]+) \| (\d*) \| (-?\d+)% \| ([\d.]+) \| (yes)? \|", text)
    assert [r[0] for r in rows] == names
    assert sum(r[4] == "yes" for r in rows) == 1
    assert all(0 < float(r[3]) < 2 for r in rows)
    models = sorted((tmp_path / "models").glob("*.safetensors"))
    assert [m.name for m in models] == sorted(f"starry-{n}.safetensors" for n in names[1:])
    chosen = next(r for r in rows if r[4])
    assert "- starry: `python -m style_transfer train --style starry" in text
    assert chosen[0] == SHIPPED or float(chosen[3]) <= recipe["max_content"]
    stamps = [m.stat().st_mtime_ns for m in models]
    assert style_recipes.run(recipe, tmp_path).read_text() == text  # measured again, not retrained
    assert [m.stat().st_mtime_ns for m in models] == stamps
    assert (tmp_path / "sheet.png").stat().st_size > 10_000
