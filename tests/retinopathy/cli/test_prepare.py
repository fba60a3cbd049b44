"""``python -m retinopathy prepare``: counts on screen, reuse, the sample set, one-line errors."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import pytest
import torch

from retinopathy.__main__ import main
from retinopathy.data import cache, synthetic


def test_prepare_command(tmp_path: Path, capsys) -> None:
    data = synthetic.generate(tmp_path / "data", n_images=8, size=96, progress=False)
    argv = ["prepare", str(data), "--size", "48", "--cache", str(tmp_path / "c"), "--workers", "1"]
    assert main(argv) == 0
    assert (
        "8 photos ready at 48 px (crop): 8 preprocessed, 0 from the cache"
        in capsys.readouterr().out
    )
    assert main(argv) == 0
    assert "0 preprocessed, 8 from the cache" in capsys.readouterr().out


def test_prepare_defaults_to_the_synthetic_set(tmp_path: Path, capsys) -> None:
    argv = ["prepare", "--size", "32", "--cache", str(tmp_path), "--synthetic-images", "6"]
    assert main(argv) == 0
    assert "6 photos ready" in capsys.readouterr().out
    assert (synthetic.default_root(6, cache_dir=tmp_path) / "manifest.json").exists()


def test_bad_input_is_one_line_with_exit_2(tmp_path: Path, capsys) -> None:
    (tmp_path / "empty").mkdir()
    for args, message in (
        ([str(tmp_path / "nowhere")], "no such file or folder"),
        ([str(tmp_path / "empty")], "cannot tell the dataset format"),
        ([str(tmp_path / "empty"), "--format", "eyepacs"], "not in eyepacs format"),
    ):
        assert main(["prepare", *args, "--cache", str(tmp_path / "c")]) == 2
        lines = capsys.readouterr().err.strip().splitlines()
        assert (
            len(lines) == 1 and lines[0].startswith("retinopathy: error:") and message in lines[0]
        )


@pytest.mark.parametrize("threads", [1, 2])
def test_threads_bound_torch_and_opencv_while_preparing_then_come_back(
    tmp_path: Path, capsys, monkeypatch, threads: int
) -> None:
    data = synthetic.generate(tmp_path / "data", n_images=3, size=96, progress=False)
    seen = []
    process_one = cache.process_one  # with one worker, run in this process
    monkeypatch.setattr(
        cache,
        "process_one",
        lambda job: seen.append((cv2.getNumThreads(), torch.get_num_threads())) or process_one(job),
    )
    before = cv2.getNumThreads(), torch.get_num_threads()
    cv2.setNumThreads(3)
    torch.set_num_threads(3)
    try:
        argv = ["prepare", str(data), "--size", "32", "--cache", str(tmp_path / "c")]
        assert main([*argv, "--workers", "1", "--threads", str(threads)]) == 0
        after = cv2.getNumThreads(), torch.get_num_threads()
    finally:
        cv2.setNumThreads(before[0])
        torch.set_num_threads(before[1])
    assert seen == [(threads, threads)] * 3
    assert after == (3, 3)
    header = capsys.readouterr().out.splitlines()[0]
    counted = f"{threads} CPU thread{'s' if threads > 1 else ''}"
    assert header.startswith("preparing ") and header.endswith(f"at 32 px (crop), {counted}")


def test_zero_threads_is_one_line_with_exit_2(tmp_path: Path, capsys) -> None:
    assert main(["prepare", "--cache", str(tmp_path), "--threads", "0"]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert lines == ["retinopathy: error: --threads must be at least 1, not 0"]
    assert list(tmp_path.iterdir()) == []


def test_a_run_records_the_threads_its_prepare_used(trained) -> None:
    run, _ = trained
    config = json.loads((run / "config.json").read_text())
    assert config["threads"] == config["train"]["threads"] >= 1  # train's count bounds both
