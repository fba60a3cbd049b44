"""The Python API: ``retinopathy.grade`` and the pipelines, the README's snippet as written, and
the ``retinopathy`` console script."""

from __future__ import annotations

import importlib
import os
import re
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import pytest
import tomllib

import retinopathy
from tests.helpers import photo

ROOT = Path(__file__).parents[2]
RUN_PLACEHOLDER = '"runs/retinopathy/<run>"'
PHOTOS_PLACEHOLDER = '"new_photos/"'


def _photos(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    rgb = cv2.cvtColor(photo("retina"), cv2.COLOR_RGB2BGR)
    cv2.imwrite(str(folder / "3_left.jpeg"), rgb)
    cv2.imwrite(str(folder / "3_right.png"), cv2.flip(rgb, 0))
    return folder


def test_the_pipelines_stay_functions_after_their_modules_are_imported() -> None:
    for name in ("train", "evaluate", "predict", "prepare"):
        importlib.import_module(f"retinopathy.{name}")
        assert callable(getattr(retinopathy, name)), name
        assert getattr(retinopathy, name).__module__ == f"retinopathy.{name}"
    assert retinopathy.grade.__module__ == "retinopathy.predict"
    assert retinopathy.resume.__module__ == "retinopathy.train"
    assert {"grade", "train", "evaluate", "RunConfig"} <= set(dir(retinopathy))
    with pytest.raises(AttributeError):
        retinopathy.nothing  # noqa: B018


def test_grade_returns_one_row_per_photo_as_predict_writes(trained, tmp_path: Path) -> None:
    run, _ = trained
    folder = _photos(tmp_path / "photos")
    df = retinopathy.grade(run, folder)
    assert isinstance(df, pd.DataFrame) and list(df["id"]) == ["3_left", "3_right"]
    probs = df[[f"p_{k}" for k in range(5)]].to_numpy()
    np.testing.assert_allclose(probs.sum(1), 1, atol=1e-6)
    assert (probs.argmax(1) == df["grade"]).all()
    assert list(df["class"]) == [["0 none", "1 mild", "2 moderate", "3 severe",
                                  "4 proliferative"][g] for g in df["grade"]]  # fmt: skip
    one = retinopathy.grade(str(run), [folder / "3_right.png"])
    # a batch of one and a batch of many round differently in float32
    np.testing.assert_allclose(one[[f"p_{k}" for k in range(5)]].to_numpy(), probs[1:], atol=5e-6)
    out = tmp_path / "grades.csv"
    retinopathy.predict(retinopathy.PredictConfig(run, folder, out=out))
    written = pd.read_csv(out)
    np.testing.assert_allclose(written[[f"p_{k}" for k in range(5)]], probs, atol=5e-6)


def test_grade_skips_an_unreadable_photo_with_a_warning(trained, tmp_path: Path) -> None:
    run, _ = trained
    folder = _photos(tmp_path / "photos")
    (folder / "9_left.jpeg").write_bytes(b"")
    with pytest.warns(UserWarning, match="1 unreadable"):
        df = retinopathy.grade(run, folder)
    assert list(df["id"]) == ["3_left", "3_right"]


def test_readme_snippet_runs_as_written(trained, tmp_path: Path) -> None:
    run, _ = trained
    readme = (ROOT / "README.md").read_text()
    blocks = [
        b for b in re.findall(r"```python\n(.*?)```", readme, re.S) if "retinopathy.grade(" in b
    ]
    assert len(blocks) == 1, "the README shows one retinopathy.grade snippet"
    code = blocks[0]
    assert code.count(RUN_PLACEHOLDER) == 1 and code.count(PHOTOS_PLACEHOLDER) == 1
    folder = _photos(tmp_path / "new_photos")
    code = code.replace(RUN_PLACEHOLDER, repr(str(run))).replace(
        PHOTOS_PLACEHOLDER, repr(str(folder))
    )
    namespace: dict = {}
    exec(compile(code, "README.md", "exec"), namespace)
    assert list(namespace["df"]["id"]) == ["3_left", "3_right"]


def test_console_script_is_declared_and_answers_help() -> None:
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    module, _, function = scripts["retinopathy"].partition(":")
    main = getattr(importlib.import_module(module), function)
    with pytest.raises(SystemExit) as exit_:
        main(["--help"])
    assert exit_.value.code == 0
    script = Path(sys.executable).parent / "retinopathy"
    if not script.is_file():
        pytest.skip("the package is not installed in this environment")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run([str(script), "train", "--help"], env=env, capture_output=True, text=True)
    assert done.returncode == 0 and "--arch" in done.stdout and "--image-size" in done.stdout
