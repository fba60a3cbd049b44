"""The model zoo and the user's own weights through the app: ``--arch timm:<name>`` and
``PRETRAINED=<file>`` train, evaluate and predict on the sample set; config.json says what the
weights were.

Every run is tiny: the referable task, 60 drawn photos at 32 px, one epoch.
"""

from __future__ import annotations

import contextlib
import importlib.util
import io
import json
import os
import shutil
import subprocess
import warnings
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import pytest
import torch
import torchvision

from retinopathy.__main__ import main
from retinopathy.config import RunConfig
from retinopathy.evaluate import fusion_alpha
from retinopathy.fusion import fuse
from retinopathy.predict import UNVALIDATED_ALPHA
from shared import backbones
from shared.backbones.weights_file import sha256_prefix

ROOT = Path(__file__).parents[3]

# Not imported here: timm would import huggingface_hub, which fixes its cache folder on import,
# before the suite points XDG_CACHE_HOME at a temporary one.
pytestmark = pytest.mark.skipif(importlib.util.find_spec("timm") is None, reason="no timm")


def tiny(cache: Path, run: Path) -> list[str]:
    return [
        "--task", "referable", "--epochs", "1", "--image-size", "32", "--synthetic-images", "60",
        "--synthetic-size", "64", "--batch-size", "16", "--cache", str(cache), "--workers", "1",
        "--run-dir", str(run),
    ]  # fmt: skip


@pytest.fixture(scope="module")
def cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("zoo") / "cache"


@pytest.fixture(scope="module")
def timm_run(cache: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str, list[str]]:
    """(run folder, stdout, warnings) of ``--arch timm:resnet18 --pretrained auto`` offline, with a
    Hugging Face cache of its own (empty, whatever the machine's holds)."""
    from huggingface_hub import constants

    from shared.backbones.weights import forget_notices

    forget_notices()  # the notice of this process is the run's, whatever ran before it
    base = tmp_path_factory.mktemp("timm-run")
    run = base / "run"
    with pytest.MonkeyPatch.context() as patch, warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        patch.setattr(constants, "HF_HUB_CACHE", str(base / "hf"))
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            code = main(
                ["train", "--arch", "timm:resnet18", "--pretrained", "auto", *tiny(cache, run)]
            )
    assert code == 0
    return run, out.getvalue(), [str(w.message) for w in caught]


def photos(cache: Path, folder: Path, n: int = 3) -> Path:
    """A folder of ``n`` of the drawn sample photos, as a user's new photos."""
    folder.mkdir()
    for path in sorted(cache.rglob("*.jpeg"))[:n]:
        shutil.copy(path, folder / path.name)
    return folder


def evaluates_and_predicts(run: Path, cache: Path, tmp_path: Path) -> None:
    before = json.loads((run / "test_metrics.json").read_text())["summary"]
    assert main(["evaluate", "--run-dir", str(run)]) == 0
    assert json.loads((run / "test_metrics.json").read_text())["summary"] == before
    grades = tmp_path / "grades.csv"
    folder = photos(cache, tmp_path / "new")
    assert main(["predict", "--run-dir", str(run), str(folder), "--out", str(grades)]) == 0
    table = pd.read_csv(grades)
    assert len(table) == 3 and set(table["grade"]) <= {0, 1}
    # Grad-CAM finds the timm model's last convolutional stage; each map has its photo's size
    argv = ["predict", "--run-dir", str(run), str(folder), "--out", str(grades), "--explain"]
    assert main(argv) == 0
    for name, overlay in pd.read_csv(grades)[["path", "explain"]].itertuples(index=False):
        shape = cv2.imread(str(name)).shape[:2]
        assert cv2.imread(str(grades.parent / overlay)).shape[:2] == shape
    # both eyes of a patient blended, as for our own backbones
    pair = tmp_path / "pair"
    pair.mkdir()
    for eye, source in zip(("7_left", "7_right"), sorted(folder.iterdir())[:2], strict=True):
        shutil.copy(source, pair / f"{eye}.jpeg")
    argv = ["predict", "--run-dir", str(run), str(pair), "--out", str(grades)]
    assert main(argv) == 0
    alone = pd.read_csv(grades).sort_values("id")[["p_0", "p_1"]].to_numpy()
    assert main([*argv, "--fuse-eyes"]) == 0
    fused = pd.read_csv(grades).sort_values("id")[["p_0", "p_1"]].to_numpy()
    alpha = fusion_alpha(run)
    expected = fuse(alone, ["7", "7"], UNVALIDATED_ALPHA if alpha is None else alpha)
    np.testing.assert_allclose(fused, expected, atol=1e-5)


def test_timm_resnet18_trains_evaluates_and_predicts(timm_run, cache: Path, tmp_path: Path) -> None:
    run, out, caught = timm_run
    assert "timm:resnet18 (random init), referable, classify head (ce), 32 px" in out
    notices = [m for m in caught if "random weights" in m]
    assert notices == [  # offline, auto: the one notice every backbone gives
        "timm:resnet18: timm/resnet18.a1_in1k is not in the Hugging Face cache "
        f"({run.parent / 'hf'}) and VISIONLAB_OFFLINE=1 forbids downloading it; starting from "
        "random weights"
    ]
    config = json.loads((run / "config.json").read_text())
    assert config["arch"] == "timm:resnet18" and config["init_weights"] == {"source": "random"}
    evaluates_and_predicts(run, cache, tmp_path)


def test_a_timm_efficientnet_trains_evaluates_and_predicts(
    cache: Path, tmp_path: Path, capsys
) -> None:
    run = tmp_path / "run"
    arch = "timm:efficientnet_b0"
    assert main(["train", "--arch", arch, "--pretrained", "no", *tiny(cache, run)]) == 0
    assert f"{arch} (random init), referable, classify head (ce), 32 px" in capsys.readouterr().out
    assert json.loads((run / "config.json").read_text())["arch"] == arch
    evaluates_and_predicts(run, cache, tmp_path)


def test_pretrained_file_loads_a_prefixed_checkpoint(cache: Path, tmp_path: Path, capsys) -> None:
    torch.manual_seed(5)
    imagenet = torchvision.models.resnet18().state_dict()
    weights = tmp_path / "colleague.pth"
    torch.save({"model": {f"module.{k}": v for k, v in imagenet.items()}}, weights)
    run = tmp_path / "run"
    assert (
        main(["train", "--arch", "resnet18", "--pretrained", str(weights), *tiny(cache, run)]) == 0
    )
    out = capsys.readouterr().out
    sha = sha256_prefix(weights)
    summary = (f"loaded 120 of 122 tensors from {weights} (sha256 {sha}); "
               "missing (new head): fc.weight, fc.bias")  # fmt: skip
    assert summary in out.splitlines()
    assert f"resnet18 (weights from {weights}, sha256 {sha})" in out
    header = (f"model: trained on the built-in synthetic sample set (drawn eyes, 60 photos), from "
              f"the weights file {weights} (--pretrained, sha256 {sha})")  # fmt: skip
    assert header in out.splitlines()
    config = json.loads((run / "config.json").read_text())
    assert config["pretrained"] == str(weights) and config["pretrained_loaded"] is True
    assert config["init_weights"] == {"source": "file", "path": str(weights), "sha256": sha}
    weights.unlink()  # the run no longer needs the file: evaluate and predict read best.pt
    evaluates_and_predicts(run, cache, tmp_path)


@pytest.mark.skipif(shutil.which("make") is None, reason="GNU make is not installed")
def test_make_passes_pretrained_file_to_train() -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("MAKELEVEL", "MAKEFLAGS", "MFLAGS")}
    result = subprocess.run(
        ["make", "-n", "--no-print-directory", "-o", ".venv/.installed", "retinopathy",
         "ARCH=timm:resnet18", "PRETRAINED=~/weights/mine.pth"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert "--arch timm:resnet18" in result.stdout
    assert "--pretrained ~/weights/mine.pth" in result.stdout


def test_our_own_run_checkpoint_starts_another_model(timm_run, capsys) -> None:
    """A run's best.pt (timm's ResNet-18, 2 classes) starts our ResNet-18 with 5: the names agree,
    the head is new."""
    best = timm_run[0] / "checkpoints" / "best.pt"
    model = backbones.create("resnet18", num_classes=5, pretrained=best)
    assert "loaded 120 of 122 tensors" in capsys.readouterr().out
    kept = torch.load(best, weights_only=True)["model"]
    assert torch.equal(model.state_dict()["layer4.1.conv2.weight"], kept["layer4.1.conv2.weight"])


def test_list_archs_lists_ours_one_a_line_and_says_how_to_name_timms(capsys) -> None:
    with pytest.raises(SystemExit) as done:
        main(["train", "--list-archs"])
    assert done.value.code == 0
    lines = capsys.readouterr().out.splitlines()
    ours = backbones.list_backbones()
    assert [line.split()[0] for line in lines[: len(ours)]] == ours
    assert "min  75 px" in lines[ours.index("inception_v3")]
    assert lines[len(ours)].startswith("timm:<name>: any timm model (timm ")
    assert "timm.list_models(" in lines[-1]


def test_arch_help_names_timm_and_list_archs(capsys) -> None:
    with pytest.raises(SystemExit):
        main(["train", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "or timm:<name> for any timm model" in text and "see --list-archs" in text
    assert "--pretrained {no,yes,auto,FILE}" in text and "module., _orig_mod., model." in text


def test_a_run_recorded_before_the_weights_record_reads_as_before() -> None:
    record = RunConfig().to_json()
    for loaded, source in ((True, "imagenet"), (False, "random")):
        old = {k: v for k, v in record.items() if k != "init_weights"}
        config = RunConfig.from_json({**old, "pretrained_loaded": loaded})
        assert config.init_weights is None and config.weights == {"source": source}


def test_a_fixed_size_timm_model_asks_for_its_size() -> None:
    from shared.errors import UserError

    with pytest.raises(UserError, match=r"fixed input size: --image-size 224, not 96"):
        RunConfig.from_options(arch="timm:vit_tiny_patch16_224")
