"""The video bench: its clip is what it says, and its one-thread variant computes with one."""

from __future__ import annotations

import cv2

from labs import bench_video


def test_the_pan_clip_has_the_frames_and_size_asked(tmp_path):
    clip = bench_video.write_pan(tmp_path / "pan.mp4", frames=6, width=96)
    video = cv2.VideoCapture(str(clip))
    frames = []
    while True:
        ok, frame = video.read()
        if not ok:
            break
        frames.append(frame)
    assert len(frames) == 6 and frames[0].shape == (64, 96, 3)
    assert (frames[0] != frames[-1]).mean() > 0.5  # it pans


def test_a_run_reports_the_thread_count_the_command_computed_with(tmp_path):
    clip = bench_video.write_pan(tmp_path / "pan.mp4", frames=3, width=64)
    env = {"OMP_NUM_THREADS": "1"}
    result = bench_video.run(bench_video.RUN_ONE, str(clip), str(tmp_path / "o.mp4"), "starry",
                             env=env)  # fmt: skip
    assert result["threads"] == 1 and result["frames"] == 3
    assert 0 < result["network"] <= result["pipeline"] <= result["seconds"]


def test_the_network_alone_computes_in_the_precision_the_command_took(tmp_path):
    clip = bench_video.write_pan(tmp_path / "pan.mp4", frames=3, width=64)
    out = str(tmp_path / "o.mp4")
    env = {"OMP_NUM_THREADS": "1"}
    whole = bench_video.run(bench_video.RUN_ONE, str(clip), out, "starry", env=env)
    assert whole["precision"] in {"fp32", "bf16"}
    alone = bench_video.run(bench_video.NETWORK_ONLY, str(clip), "starry", "1", "bf16", env=env)
    assert alone["frames"] == 3 and alone["precision"] == "bf16"
