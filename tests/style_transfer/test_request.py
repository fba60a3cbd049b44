"""Which method a stylize runs, and options refused when that method does not take them."""

from __future__ import annotations

from pathlib import Path

import pytest

from shared.errors import UserError
from style_transfer.request import GATYS_OPTIONS, StylizeRequest, choose_method, plan
from style_transfer.styles import Style


def test_method_auto_prefers_a_trained_model(tmp_path: Path) -> None:
    style = Style("starry", tmp_path / "s.jpg", model_dir=tmp_path)
    assert choose_method("auto", [style]) == "gatys"
    style.model_path.write_bytes(b"weights")
    assert choose_method("auto", [style]) == "johnson"
    assert choose_method("gatys", [style]) == "gatys"
    with pytest.raises(UserError, match="method must be one of auto, gatys, johnson"):
        choose_method("fast", [style])


def test_a_blend_is_gatys_and_never_johnson() -> None:
    assert plan(StylizeRequest(style="starry,wave"))[0] == "gatys"  # both have models
    with pytest.raises(UserError, match="not a blend"):
        plan(StylizeRequest(style="starry,wave", method="johnson"))


def test_gatys_options_are_refused_when_johnson_runs() -> None:
    # the shipped starry model: auto runs Johnson, which takes no iterations
    with pytest.raises(UserError, match="iters, seed are options of the gatys method") as info:
        plan(StylizeRequest(style="starry", options={"iters": 5, "seed": 1}))
    assert "('starry' has a trained model): choose method gatys" in str(info.value)
    with pytest.raises(UserError, match="style_weights"):
        plan(StylizeRequest(style="starry", style_weights=[1.0]))
    method, styles = plan(StylizeRequest(style="starry", method="gatys", options={"iters": 5}))
    assert method == "gatys" and [s.name for s in styles] == ["starry"]


def test_unknown_options_are_named() -> None:
    with pytest.raises(UserError, match=r"unknown option.*iterations") as info:
        plan(StylizeRequest(method="gatys", options={"iterations": 5}))
    assert "iters" in str(info.value) and set(GATYS_OPTIONS) >= {"iters", "backbone", "pooling"}
