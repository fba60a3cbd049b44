"""The style-quality lab: each method measured on the same ruler, the smoke run labelled."""

from __future__ import annotations

import re
from pathlib import Path

import tomllib

from labs.runners import style_quality

RECIPE = Path(__file__).resolve().parents[2] / "labs" / "style_quality.toml"


def test_a_smoke_run_measures_every_method_and_says_what_it_is(tmp_path: Path) -> None:
    recipe = tomllib.loads(RECIPE.read_text())
    recipe.update(name="style_quality", quick=True, styles=["starry"], photos=["retina"])
    text = style_quality.run(recipe, tmp_path).read_text()
    assert (tmp_path / "held-out-0.png").is_file()  # what the held-out row measured
    held = re.findall(r"\| held-out-0 \| (\w+) \|", text)
    assert held == ["gatys", "arbitrary"]  # no Johnson model for a painting never trained on
    assert "Held-out styles (1): the arbitrary network moves" in text
    assert text.startswith("# style_quality (smoke run, --quick")
    rows = re.findall(
        r"\| starry \| (\w+) \| ([\d.]+) \| ([\d.]+) -> ([\d.]+) \| (-?\d+)% \| ([\d.]+) \|", text
    )
    assert [r[0] for r in rows] == list(style_quality.METHODS)
    for _, seconds, before, after, share, content in rows:
        assert float(seconds) > 0 and 0 < float(content) < 2
        assert round((float(before) - float(after)) / float(before) * 100) == int(share)
    johnson = dict(zip(style_quality.METHODS, rows, strict=True))["johnson"]
    assert float(johnson[3]) < float(johnson[2])  # the trained network moves toward the style
    assert (tmp_path / "sheet.png").stat().st_size > 10_000
