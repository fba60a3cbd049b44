"""One tiny trained run (ResNet-18 at 32 px, 2 epochs, 400 synthetic photos) for the whole session.

The run's cache folder holds both the drawn sample set and its prepared photos. It computes in
fp32 on every machine (auto would take bf16 on some), so `evaluate --precision fp32` gives its
own numbers again, and bf16 can be compared against it.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from retinopathy.__main__ import main


def train_args(cache: Path, run: Path) -> list[str]:
    return [
        "train", "--arch", "resnet18", "--epochs", "2", "--image-size", "32",
        "--synthetic-images", "400", "--synthetic-size", "128", "--batch-size", "32",
        "--pretrained", "no", "--cache", str(cache), "--workers", "2", "--run-dir", str(run),
        "--precision", "fp32", "--keep-last",
    ]  # fmt: skip


@pytest.fixture(scope="session")
def trained(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(run folder, cache folder) of the session's trained run."""
    base = tmp_path_factory.mktemp("dr-app")
    cache, run = base / "cache", base / "run"
    assert main(train_args(cache, run)) == 0
    return run, cache
