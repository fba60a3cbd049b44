"""Lab recipes: every recipe maps onto a valid run config, trained through the Python API."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
import tomllib

from labs.runners import retinopathy as lab
from retinopathy.config import RunConfig

LABS = Path(__file__).parents[2] / "labs"
RECIPES = sorted(p for p in LABS.glob("dr_*.toml"))


def test_options_become_a_config_and_the_variant_trains_through_it(tmp_path, monkeypatch) -> None:
    calls = []
    monkeypatch.setattr(lab, "train", lambda config, run: calls.append((config, run)))
    options = {
        "arch": "resnet18",
        "image_size": 96,
        "augment": False,
        "precision": "bf16",
        "lr": None,
    }
    with pytest.raises(FileNotFoundError):  # the fake training wrote no metrics
        lab.run_variant(options, tmp_path / "x")
    ((config, run),) = calls
    assert run == tmp_path / "x"
    assert (config.arch, config.data.image_size, config.augment) == ("resnet18", 96, False)
    assert config.train.precision == "bf16" and config.train.lr == RunConfig().train.lr


def test_the_runner_imports_no_command_line_module() -> None:
    tree = ast.parse((LABS / "runners" / "retinopathy.py").read_text())
    modules = [n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)]
    modules += [a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names]
    assert not [m for m in modules if "cli" in m.split(".") or m.endswith("__main__")], modules


@pytest.mark.parametrize("path", RECIPES, ids=lambda p: p.stem)
def test_recipe_variants_are_valid_run_configs(path: Path) -> None:
    recipe = tomllib.loads(path.read_text())
    assert recipe["app"] == "retinopathy" and recipe["variant"]
    for quick in (False, True):
        base = {**recipe["base"], **(recipe.get("quick_overrides", {}) if quick else {})}
        for variant in recipe["variant"]:
            options = {**base, **{k: v for k, v in variant.items() if k != "name"}}
            config = RunConfig.from_options(**options)
            assert config.arch == options["arch"]


def test_results_table_lists_each_variant() -> None:
    rows = [
        ("a", {"test_accuracy": 0.5, "test_qwk": 0.25, "recall": [1.0, 0.0, 0.125]}, 90.0),
        ("b", {"test_accuracy": 0.75}, None),
    ]
    text = lab.table(rows)
    assert "| a | 0.500 | 0.250 | nan | nan | 1.00 / 0.00 / 0.12 | 1.5 |" in text
    assert "| b | 0.750 | nan | nan | nan | - | - |" in text


def test_auto_pretrained_offline_without_weights_reuses_the_scratch_run(
    tmp_path: Path, monkeypatch
) -> None:
    monkeypatch.setenv("VISIONLAB_OFFLINE", "1")
    monkeypatch.setattr(lab, "weights_available", lambda arch: arch == "efficientnet_lite0")
    trained: list[dict] = []

    def fake_run_variant(options: dict, run: Path) -> tuple[dict[str, float], float]:
        trained.append(options)
        return {"test_qwk": 0.1 * len(trained)}, 60.0

    monkeypatch.setattr(lab, "run_variant", fake_run_variant)
    recipe = {
        "name": "pre",
        "base": {"epochs": 1},
        "variant": [
            {"name": "r18 scratch", "arch": "resnet18", "pretrained": "no"},
            {"name": "r18 pretrained", "arch": "resnet18", "pretrained": "auto"},
            {"name": "lite scratch", "arch": "efficientnet_lite0", "pretrained": "no"},
            {"name": "lite pretrained", "arch": "efficientnet_lite0", "pretrained": "auto"},
        ],
    }
    text = lab.run(recipe, tmp_path).read_text()
    assert [(o["arch"], o["pretrained"]) for o in trained] == [
        ("resnet18", "no"),
        ("efficientnet_lite0", "no"),
        ("efficientnet_lite0", "auto"),  # its weights are there: a real second run
    ]
    assert "| r18 pretrained (no ImageNet weights here: = r18 scratch) | nan | 0.100 |" in text
    assert "| lite pretrained | nan | 0.300 | nan | nan | - | 1.0 |" in text


def test_auto_pretrained_online_is_left_to_try_the_download(monkeypatch) -> None:
    monkeypatch.delenv("VISIONLAB_OFFLINE", raising=False)
    monkeypatch.setattr(lab, "weights_available", lambda arch: False)
    options = {"arch": "resnet50", "pretrained": "auto"}
    assert lab.effective(options) == options
