"""What a run says it was trained on and from which weights: the sentence, report.md's first
lines, predict's warning and the CSV's ``model`` column."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import cv2
import pandas as pd
import pytest

import retinopathy
from retinopathy.config import RunConfig
from retinopathy.provenance import provenance, run_provenance
from tests.helpers import photo

SAMPLE_SET_RANDOM = (
    "trained on the built-in synthetic sample set (drawn eyes, 400 photos), from random weights"
)
ROOT = Path(__file__).parents[2]
CAVEAT = "its grades of real fundus photos mean nothing clinically"


def test_sample_set_from_random_weights_says_so_and_warns() -> None:
    config = RunConfig.from_options(pretrained="no", synthetic_images=2000)
    config.init_weights, config.trained_on = {"source": "random"}, {"format": None, "photos": 400}
    said = provenance(config)
    assert said.sentence == SAMPLE_SET_RANDOM  # the photos used, not the set's nominal size
    assert said.caveat == f"this model was {SAMPLE_SET_RANDOM}; {CAVEAT}"


def test_named_dataset_from_a_weights_file() -> None:
    config = RunConfig.from_options(data="/data/aptos2019", pretrained="/w/mine.pth")
    config.init_weights = {"source": "file", "path": "/w/mine.pth", "sha256": "0123456789ab"}
    config.trained_on = {"format": "aptos", "photos": 3662}
    said = provenance(config)
    assert said.sentence == (
        "trained on aptos2019 (aptos format, 3662 photos), from the weights file /w/mine.pth "
        "(--pretrained, sha256 0123456789ab)"
    )
    assert said.caveat is None  # real photos, and weights that were not random


def test_named_dataset_from_imagenet_and_timm_weights() -> None:
    config = RunConfig.from_options(data="/data/eyepacs", format="eyepacs")
    config.init_weights = {"source": "imagenet", "name": "resnet18-f37072fd.pth"}
    assert provenance(config, photos=35126).sentence == (
        "trained on eyepacs (eyepacs format, 35126 photos), from ImageNet weights "
        "(resnet18-f37072fd.pth)"
    )
    config = RunConfig.from_options(data="/data/eyepacs", arch="timm:resnet18", image_size=224)
    config.init_weights = {"source": "imagenet", "name": "timm/resnet18.a1_in1k"}
    assert provenance(config).sentence.endswith(
        "from timm's pretrained weights (timm/resnet18.a1_in1k)"
    )


def test_a_run_recorded_before_trained_on_counts_its_split(trained, tmp_path: Path) -> None:
    run, _ = trained
    old = tmp_path / "old"
    old.mkdir()
    record = json.loads((run / "config.json").read_text())
    assert record["trained_on"] == {"format": None, "photos": 400}
    del record["trained_on"], record["init_weights"]
    (old / "config.json").write_text(json.dumps(record))
    shutil.copy(run / "split.csv", old / "split.csv")
    assert run_provenance(old).sentence == SAMPLE_SET_RANDOM


def test_report_opens_with_the_provenance_and_its_warning(trained) -> None:
    run, _ = trained
    lines = (run / "report.md").read_text().splitlines()
    assert lines[0].startswith("# resnet18 on grade5")
    assert lines[2] == f"This model was {SAMPLE_SET_RANDOM}."
    assert lines[4] == f"**Warning: this model was {SAMPLE_SET_RANDOM}; {CAVEAT}.**"


def test_predict_warns_on_stderr_and_writes_the_model_column(trained, tmp_path: Path) -> None:
    run, _ = trained
    image = tmp_path / "fundus.jpg"
    cv2.imwrite(str(image), cv2.cvtColor(photo("retina"), cv2.COLOR_RGB2BGR))
    out = tmp_path / "grades.csv"
    argv = ["predict", "--run-dir", str(run), str(image), "--out", str(out)]
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    code = subprocess.run([sys.executable, "-m", "retinopathy", *argv], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=300)  # fmt: skip
    assert code.returncode == 0, code.stderr
    lines = code.stderr.splitlines()
    assert lines == [f"retinopathy: warning: this model was {SAMPLE_SET_RANDOM}; {CAVEAT}"]
    table = pd.read_csv(out)
    assert table.columns[-1] == "model" and list(table["model"]) == [SAMPLE_SET_RANDOM]


def test_grade_warns_with_the_frame(trained, tmp_path: Path) -> None:
    run, _ = trained
    image = tmp_path / "fundus.png"
    cv2.imwrite(str(image), cv2.cvtColor(photo("retina"), cv2.COLOR_RGB2BGR))
    with pytest.warns(UserWarning, match=re.escape(f"{SAMPLE_SET_RANDOM}; {CAVEAT}")):
        frame = retinopathy.grade(run, image)
    assert list(frame["id"]) == ["fundus"]
