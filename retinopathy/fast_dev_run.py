"""``train --fast-dev-run``: one batch through training, validation, test, the report and
``predict``, to find a broken setting in seconds instead of an hour into a run (Lightning's name
for the same check).

    from retinopathy.fast_dev_run import fast_dev_run
    fast_dev_run(RunConfig.from_options(**fast_dev_options({"arch": "resnet50"})))

The split is made as for a real run, then each part cut to one batch; one epoch; the report's
intervals from a few resamples. On the sample set a small one is drawn (unless the photo count
is given). Without a run folder the run is made in a temporary one and removed after: nothing is
kept but the verdict; with ``--run-dir`` everything is, and its config.json says
``"fast_dev_run": true``.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

import pandas as pd

from retinopathy.config import SYNTHETIC, PredictConfig, RunConfig
from retinopathy.data.run_data import SPLIT_FILE
from retinopathy.predict import predict
from retinopathy.train import train

SAMPLE_PHOTOS = 160  # the sample set a fast dev run draws: enough for a stratified split
SAMPLE_SIZE = 128  # px, its photos' height


def fast_dev_options(options: dict[str, Any]) -> dict[str, Any]:
    """``train``'s options for a fast dev run: a small sample set unless the data is given."""
    out = {**options, "fast_dev_run": True}
    if options.get("data", SYNTHETIC) == SYNTHETIC:
        out.setdefault("synthetic_images", SAMPLE_PHOTOS)
        out.setdefault("synthetic_size", SAMPLE_SIZE)
    return out


def fast_dev_run(config: RunConfig, run: str | Path | None = None) -> Path | None:
    """Train, evaluate, report and predict on one batch each; the run folder when one was
    asked for (else it is removed, and None returned)."""
    start = time.perf_counter()
    scratch = None if run is not None else Path(tempfile.mkdtemp(prefix="fast-dev-run-"))
    try:
        run_dir = train(config, run if run is not None else scratch / "run")
        split = pd.read_csv(run_dir / SPLIT_FILE)
        photos = [Path(p) for p in split.loc[split["split"] == "test", "path"]]
        out = predict(PredictConfig(run=run_dir, images=photos, out=run_dir / "fast_dev.csv"))
        graded = len(pd.read_csv(out))
    finally:
        if scratch is not None:
            shutil.rmtree(scratch, ignore_errors=True)
    seconds = time.perf_counter() - start
    kept = f"kept in {run_dir}" if run is not None else "nothing kept (--run-dir keeps it)"
    print(
        f"fast dev run passed in {seconds:.1f} s: train, validation, test, report and predict "
        f"({graded} photos), one batch each; {kept}",
        flush=True,
    )
    return run_dir if run is not None else None
