"""Which method a stylize runs, and options refused when that method does not take them."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from shared.errors import UserError
from style_transfer.request import GATYS_OPTIONS, StylizeRequest, choose_method, plan
from style_transfer.styles import Style

README = Path(__file__).resolve().parents[2] / "README.md"


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


def test_with_auto_a_gatys_option_off_its_default_chooses_gatys(capsys) -> None:
    # the shipped starry model: auto alone runs Johnson, which takes no iterations
    assert plan(StylizeRequest(style="starry"))[0] == "johnson"
    method, styles = plan(StylizeRequest(style="starry", options={"iters": 300}))
    assert method == "gatys" and [s.name for s in styles] == ["starry"]
    assert capsys.readouterr().out == (
        "--iters given: Gatys (the style's Johnson model ignores it)\n"
    )
    request = StylizeRequest(style="starry", options={"scales": [256, 512], "optimizer": "adam"})
    assert plan(request)[0] == "gatys"
    assert capsys.readouterr().out.startswith("--scales, --optimizer given: Gatys (")
    assert plan(StylizeRequest(style="wave", style_weights=[1.0]))[0] == "gatys"


def test_with_auto_gatys_options_at_their_defaults_are_refused_not_dropped() -> None:
    with pytest.raises(UserError) as info:
        plan(StylizeRequest(style="starry", options={"iters": 200, "scales": [512]}))
    assert str(info.value) == (
        "--iters, --scales are options of the gatys method, but the johnson method runs "
        "('starry' has a trained model, and those are the gatys default): drop them, or "
        "choose method gatys to use them"
    )


def test_method_johnson_refuses_gatys_options_by_flag() -> None:
    with pytest.raises(UserError) as info:
        plan(StylizeRequest(style="starry", method="johnson", options={"normalize": False}))
    assert str(info.value) == (
        "--layer-norm is an option of the gatys method, but the johnson method runs: drop it, "
        "or choose method gatys to use it"
    )
    with pytest.raises(UserError, match="--style-weights is an option"):
        plan(StylizeRequest(style="starry", method="johnson", style_weights=[1.0]))
    method, _ = plan(StylizeRequest(style="starry", method="gatys", options={"iters": 5}))
    assert method == "gatys"


def test_unknown_options_are_named() -> None:
    with pytest.raises(UserError, match=r"unknown option.*iterations") as info:
        plan(StylizeRequest(method="gatys", options={"iterations": 5}))
    assert "iters" in str(info.value) and set(GATYS_OPTIONS) >= {"iters", "backbone", "pooling"}


def test_the_readmes_gatys_examples_run_gatys(capsys) -> None:
    """Every ``make stylize ... ITERS=n`` of the README plans Gatys, with its iterations."""
    lines = [line for line in README.read_text().splitlines() if line.startswith("make stylize ")]
    examples = [dict(re.findall(r"(\w+)=(\S+)", line.split("#")[0])) for line in lines]
    gatys = [e for e in examples if "ITERS" in e]
    assert gatys, "the README shows no Gatys example"
    for e in gatys:
        request = StylizeRequest(
            style=e["STYLE"], method=e.get("METHOD", "auto"), options={"iters": int(e["ITERS"])}
        )
        assert plan(request)[0] == "gatys", e
    assert "--iters given: Gatys" in capsys.readouterr().out
