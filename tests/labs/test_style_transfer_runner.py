"""The comparison lab: the plan it expands, shared runs computed once, the files it writes."""

from __future__ import annotations

from pathlib import Path

from labs.runners import style_transfer as lab

RECIPE = {
    "name": "tiny",
    "content": "chelsea",
    "style": "starry",
    "base": {
        "size": 96,
        "iters": 2,
        "backbone": "efficientnet_lite0",
        "optimizer": "lbfgs",
        "loss": "mse",
    },
    "groups": {
        "distance": {"vary": "loss", "values": ["mse", "l1"]},
        "optimizer": {"vary": "optimizer", "values": ["lbfgs", "adam"]},
    },
    "quick": False,
}


def test_plan_varies_one_setting_per_group() -> None:
    runs = lab.plan(RECIPE)
    assert [(r.group, r.label) for r in runs] == [
        ("distance", "mse"),
        ("distance", "l1"),
        ("optimizer", "lbfgs"),
        ("optimizer", "adam"),
    ]
    assert runs[1].settings == {**RECIPE["base"], "loss": "l1"}
    assert lab.plan({**RECIPE, "quick": True})[0].settings["size"] == lab.QUICK["size"]


def test_run_writes_table_plots_and_sheet(tmp_path: Path, monkeypatch) -> None:
    calls = []
    real = lab.optimise_image
    monkeypatch.setattr(lab, "optimise_image", lambda *a, **k: calls.append(1) or real(*a, **k))
    table = lab.run(RECIPE, tmp_path)
    # mse+lbfgs appears in both groups: computed once.
    assert len(calls) == 3
    text = table.read_text()
    assert text.count("| distance |") == 2 and text.count("| optimizer |") == 2
    assert "efficientnet_lite0 (ImageNet weights, anti-aliased strides)" in text
    for name in ("loss_distance.png", "loss_optimizer.png", "results.png"):
        assert (tmp_path / name).is_file()
