"""Lab recipes: every recipe maps onto a valid run config, trained through the Python API."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
import tomllib

from labs.runners import retinopathy as lab
from retinopathy.config import RunConfig
from shared.errors import UserError
from shared.runs import RunPaths

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


def _record(recall: list[float] | None = None, **summary: float) -> dict:
    return {"summary": summary, "test": {"recall": recall or []}}


def test_results_table_lists_each_variant() -> None:
    rows = [
        ("a", _record([1.0, 0.0, 0.125], test_accuracy=0.5, test_qwk=0.25), 90.0),
        ("b", _record(test_accuracy=0.75), None),
    ]
    text = lab.table(rows)
    assert "| a | 0.500 | 0.250 | nan | nan | 1.00 / 0.00 / 0.12 | 1.5 |" in text
    assert "| b | 0.750 | nan | nan | nan | - | - |" in text


def test_extra_columns_read_intervals_cut_points_operating_points_and_pointing() -> None:
    record = _record([0.5, 0.5], test_accuracy=0.5, test_qwk=0.8, test_macro_f1=0.4, test_auc=0.9)
    record["ci95"] = {"qwk": [0.712, 0.884]}
    record["cut_points"] = {"rows": {"midpoints": {"test_qwk": 0.7641},
                                     "tuned": {"test_qwk": 0.8472}}}  # fmt: skip
    record["operating_points"] = {
        "high_specificity": {"sensitivity": 0.625, "specificity": 0.981},
        "high_sensitivity": {"sensitivity": 0.975, "specificity": 0.5},
    }
    record["pointing_game"] = {"rate": 0.25, "baseline": 0.0412, "photos": 40, "hits": 10}
    columns = ["qwk_ci", "cut_points", "operating_points", "pointing_game"]
    text = lab.table([("ordinal", record, 60.0)], columns)
    head, rule, row = text.splitlines()
    assert head.count("|") == rule.count("|") == row.count("|") == 13
    assert "QWK 95% CI | QWK midpoints -> tuned | referable sens / spec, high-spec point" in head
    assert row == (
        "| ordinal | 0.500 | 0.800 | 0.400 | 0.900 | 0.71-0.88 | 0.764 -> 0.847 | 0.62 / 0.98 "
        "| 0.97 / 0.50 | 0.25 (0.04) | 0.50 / 0.50 | 1.0 |"
    )
    # the classify head has no cut points; a run without masks has no pointing game
    bare = lab.table([("classify", _record(), None)], columns).splitlines()[-1]
    assert bare == "| classify | nan | nan | nan | nan | - | - | - | - | - | - | - |"


def test_a_misspelt_option_in_the_last_variant_fails_before_anything_trains(
    tmp_path: Path, monkeypatch
) -> None:
    monkeypatch.setattr(lab, "run_variant", lambda *a: pytest.fail("trained before checking"))
    recipe = {"name": "typo", "base": {"epochs": 1},
              "variant": [{"name": "ok", "arch": "resnet18"},
                          {"name": "bad", "arch": "resnet18", "imagesize": 64}]}  # fmt: skip
    with pytest.raises(UserError, match=r"^recipe typo, variant 'bad': unknown training option"):
        lab.run(recipe, tmp_path)
    recipe["variant"].pop()
    recipe["columns"] = ["qwk_interval"]
    with pytest.raises(UserError, match="unknown column 'qwk_interval'; choose from qwk_ci"):
        lab.run(recipe, tmp_path)


def test_the_command_prints_a_bad_recipe_as_one_line(tmp_path: Path, monkeypatch, capsys) -> None:
    from labs import __main__ as labs_main

    bad = tmp_path / "typo.toml"
    bad.write_text('app = "retinopathy"\n[[variant]]\nname = "x"\nlearning_rate = 1\n')
    monkeypatch.setattr(labs_main, "LABS", tmp_path)
    assert labs_main.main(["typo", "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err.strip()
    assert err == "labs: error: recipe typo, variant 'x': unknown training option(s): learning_rate"


def test_a_smoke_run_says_so_and_deletes_its_checkpoints(tmp_path: Path, monkeypatch) -> None:
    def fake_run_variant(options: dict, run: Path) -> tuple[dict, float]:
        paths = RunPaths(run)
        paths.checkpoints.mkdir(parents=True)
        for checkpoint in (paths.best, paths.last):  # where a real run keeps them
            checkpoint.write_bytes(b"x")
        (run / "report.md").write_text("r")
        return _record(test_qwk=0.5), 6.0

    monkeypatch.setattr(lab, "run_variant", fake_run_variant)
    recipe = {"name": "smoke", "quick": True, "base": {"epochs": 3},
              "quick_overrides": {"epochs": 1},
              "variant": [{"name": "a", "arch": "resnet18"}]}  # fmt: skip
    text = lab.run(recipe, tmp_path).read_text()
    assert text.startswith("# smoke: smoke run (--quick): a check that the recipe runs, not a")
    assert "| a (smoke run) | nan | 0.500 |" in text
    assert sorted(p.name for p in (tmp_path / "a").iterdir()) == ["checkpoints", "report.md"]
    assert list((tmp_path / "a" / "checkpoints").iterdir()) == []


def test_a_figure_draws_the_named_variants_curves(tmp_path: Path, monkeypatch) -> None:
    from shared.runs import MetricsLog, RunPaths

    def fake_run_variant(options: dict, run: Path) -> tuple[dict, float]:
        log = MetricsLog(RunPaths(run).metrics)
        for epoch in (1, 2, 3):
            log.append({"epoch": epoch, "train_loss": 1 / epoch, "val_qwk": 0.2 * epoch})
        return _record(test_qwk=0.5), 6.0

    monkeypatch.setattr(lab, "run_variant", fake_run_variant)
    drawn = {}
    monkeypatch.setattr(
        lab.plotting, "plot_metric_panels",
        lambda panels, path, title="": drawn.update(panels=panels, title=title) or path,
    )  # fmt: skip
    recipe = {"name": "fig", "base": {"epochs": 3},
              "variant": [{"name": "a", "arch": "resnet18"}, {"name": "b", "arch": "resnet34"}],
              "figure": [{"name": "curves", "title": "T", "variants": ["a", "b"],
                          "metrics": ["train_loss", "val_qwk"]}]}  # fmt: skip
    text = lab.run(recipe, tmp_path).read_text()
    assert "![curves](curves.png)" in text and drawn["title"] == "T"
    assert list(drawn["panels"]) == ["train loss", "validation qwk"]
    assert drawn["panels"]["validation qwk"]["b"] == pytest.approx([0.2, 0.4, 0.6])


def test_auto_pretrained_offline_without_weights_reuses_the_scratch_run(
    tmp_path: Path, monkeypatch
) -> None:
    monkeypatch.setenv("VISIONLAB_OFFLINE", "1")
    monkeypatch.setattr(lab, "weights_available", lambda arch: arch == "efficientnet_lite0")
    trained: list[dict] = []

    def fake_run_variant(options: dict, run: Path) -> tuple[dict, float]:
        trained.append(options)
        return _record(test_qwk=0.1 * len(trained)), 60.0

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
