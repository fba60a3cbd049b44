"""The report's "Why this grade": a gallery of maps, the pointing game; one line without captum."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import cv2
import pandas as pd

from retinopathy import report
from retinopathy.data.run_data import RunData
from retinopathy.models import load_run_model
from retinopathy.prepare import reopen


def _section_inputs(run: Path):
    kept = load_run_model(run)
    data = RunData.of_run(reopen(kept.config), kept.config, run)
    return kept, data, pd.read_csv(run / "test_predictions.csv")


def test_the_report_shows_the_gallery_and_the_pointing_game(trained) -> None:
    run, _ = trained
    assert "## Why this grade" in (run / "report.md").read_text()
    text, game_kept = report.explain_section(run, *_section_inputs(run))
    assert "![explain gallery](plots/explain_gallery.png)" in text and "`layer4`" in text
    gallery = cv2.imread(str(run / "plots" / "explain_gallery.png"))
    assert gallery is not None and gallery.shape[0] > 100
    game = re.search(
        r"pointing game: ([\d.]+) of (\d+) photos vs ([\d.]+) for a random point", text
    )
    assert game is not None, text
    rate, photos, baseline = float(game[1]), int(game[2]), float(game[3])
    assert photos > 0 and 0 <= rate <= 1 and 0 < baseline < 1
    assert (game_kept.photos, round(game_kept.rate, 2)) == (photos, rate)
    # the evaluation keeps the same game in test_metrics.json, for tables to read
    stored = json.loads((run / "test_metrics.json").read_text())["pointing_game"]
    assert stored["photos"] == photos and round(stored["rate"], 2) == rate
    assert round(stored["baseline"], 2) == baseline


def test_without_captum_the_section_is_one_line(trained, monkeypatch) -> None:
    run, _ = trained
    inputs = _section_inputs(run)
    monkeypatch.setitem(sys.modules, "captum.attr", None)
    text, game = report.explain_section(run, *inputs)
    text = text.strip()
    assert game is None
    assert text.splitlines()[-1] == "The gallery of heat maps needs captum: `pip install captum`."
    assert len(text.splitlines()) == 3  # the title, a blank line, the sentence


def test_photos_without_masks_have_no_pointing_game(trained, tmp_path, monkeypatch) -> None:
    run, _ = trained
    from retinopathy import report_explain

    monkeypatch.setattr(report_explain, "mask_path", lambda photo: tmp_path / "none.png")
    text, game = report.explain_section(run, *_section_inputs(run))
    assert game is not None and game.photos == 0
    assert "No lesion masks for these test photos: no pointing game" in text
