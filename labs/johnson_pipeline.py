"""The Johnson bench's last two parts (``make bench ARGS="johnson --parts video 4k"``): the video
pipeline against the network alone on the same frames, and a 4K frame in one pass and in tiles.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

import torch

from labs.timing import median_times
from style_transfer.johnson.net import TransformerNet

VIDEO_SIZE, VIDEO_FRAMES = (426, 240), 48


def _make_clip(path: Path) -> Path:
    import av
    import numpy as np
    import skimage.data

    width, height = VIDEO_SIZE
    picture = np.kron(skimage.data.astronaut(), np.ones((2, 2, 1), np.uint8))  # 1024 px
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=30)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        for i in range(VIDEO_FRAMES):
            crop = picture[100 + 3 * i : 100 + 3 * i + height, 50 + 5 * i : 50 + 5 * i + width]
            out.mux(stream.encode(av.VideoFrame.from_ndarray(np.ascontiguousarray(crop), "rgb24")))
        out.mux(stream.encode(None))
    return path


def video_overhead() -> None:
    import cv2

    from style_transfer.johnson.infer import transform_images
    from style_transfer.video.stream import transform_video

    torch.manual_seed(0)
    net = TransformerNet()
    reports = {}
    with tempfile.TemporaryDirectory() as tmp:
        clip = _make_clip(Path(tmp) / "clip.mp4")
        capture = cv2.VideoCapture(str(clip))
        frames = []
        while (frame := capture.read())[0]:
            frames.append(cv2.cvtColor(frame[1], cv2.COLOR_BGR2RGB))
        batch = 4

        def network_only() -> None:
            for i in range(0, len(frames), batch):
                transform_images(net, frames[i : i + batch], batch_size=batch)

        def pipeline(stabilize: float = 0.0) -> None:
            out = Path(tmp) / "out.mp4"
            report = transform_video(
                net, clip, out, batch_size=batch, stabilize=stabilize, progress=False
            )
            reports.setdefault(stabilize, []).append(report.seconds / report.network_seconds - 1)

        t = median_times(
            {"network": network_only, "pipeline": pipeline, "stabilised": lambda: pipeline(0.5)},
            repeats=5,
        )
    n = len(frames)
    print(f"\nvideo {VIDEO_SIZE[0]}x{VIDEO_SIZE[1]}, {n} frames, batch {batch}; median of 5")
    print(f"network alone on the decoded frames: {n / t['network']:.2f} frames/s")
    for name, stabilize in (("pipeline", 0.0), ("stabilised", 0.5)):
        overhead = t[name] / t["network"] - 1
        within = statistics.median(reports[stabilize])
        print(
            f"{name:<10}: {n / t[name]:.2f} frames/s, {overhead:+.1%} against the separate "
            f"network runs; {within:+.1%} against its own network time (same run, same load)"
        )


# Peak memory from /proc/self/status (VmHWM: this address space's high-water mark). ru_maxrss
# would not do, even in a fresh process: Linux carries the parent's peak over fork and exec.
_FOUR_K = """
import sys, time, numpy as np, torch, cv2, skimage.data
from shared.allocator import keep_freed_memory
keep_freed_memory()  # as the stylize command does first
from style_transfer.johnson.infer import transform_image
from style_transfer.johnson.net import TransformerNet
def status(key):
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) * 1024 for line in f if line.startswith(key))
budget = int(sys.argv[1]) or None
torch.manual_seed(0)
net = TransformerNet()
frame = cv2.resize(skimage.data.astronaut(), (3840, 2160), interpolation=cv2.INTER_CUBIC)
before = status("VmRSS:")
start = time.perf_counter()
out = transform_image(net, frame, budget=budget)
seconds = time.perf_counter() - start
assert out.shape == frame.shape
print(seconds, before, status("VmHWM:"), net.peak_bytes_per_pixel() * 3840 * 2160)
"""


def four_k() -> None:
    print("\n4K frame (3840x2160) on the CPU, each in a fresh process")
    root = Path(__file__).resolve().parents[1]
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(root), os.environ.get("PYTHONPATH", "")]),
    }
    for label, budget in (("one pass", 0), ("tiles, 1 GiB budget", 2**30)):
        done = subprocess.run(
            [sys.executable, "-c", _FOUR_K, str(budget)],
            capture_output=True,
            text=True,
            env=env,
            check=True,
        )
        seconds, before, peak, estimate = (float(v) for v in done.stdout.split())
        print(
            f"{label:<20}: {seconds:6.1f} s, peak RSS {peak / 2**30:.2f} GiB, "
            f"{(peak - before) / 2**30:.2f} GiB above the {before / 2**30:.2f} GiB before the pass "
            f"(one-pass estimate {estimate / 2**30:.2f} GiB)",
            flush=True,
        )
