"""One table of graded photos: its columns follow what is known about the photos."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from retinopathy.predictions import prediction_frame, write_predictions
from retinopathy.tasks import get_task


def test_columns_follow_what_is_known(tmp_path: Path) -> None:
    task = get_task("referable")
    probs = np.array([[0.9, 0.1], [0.123456, 0.876544]])
    bare = prediction_frame(task, ["a", "b"], probs)
    assert list(bare.columns) == ["id", "grade", "class", "p_0", "p_1"]
    assert list(bare["grade"]) == [0, 1]
    assert list(bare["class"]) == ["0-1 non-referable", "2-4 referable"]
    full = prediction_frame(task, ["a", "b"], probs, labels=[0, 0], paths=[Path("x/a.jpg")] * 2)
    assert list(full.columns) == ["id", "true", "grade", "class", "p_0", "p_1", "path"]
    out = write_predictions(tmp_path / "p.csv", full)
    assert out.read_text().splitlines()[2] == "b,0,1,2-4 referable,0.12346,0.87654,x/a.jpg"
    assert pd.read_csv(out)["true"].tolist() == [0, 0]
