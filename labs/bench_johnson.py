"""Johnson network speed, side by side: ``make bench ARGS=johnson``.

1. Forward time at 256, 512 and 1024 px: ours (channels_last, upsampling as one transposed
   convolution, inference mode) against pytorch/examples' net (``reference_johnson_examples.py``:
   same layer sizes, same weights, run as its ``stylize`` runs it, NCHW under ``no_grad``), plus
   ours in NCHW to show where the gain comes from. Runs alternate; medians are reported.
2. The video pipeline (decode thread, batched inference, flow + encode thread) against the network
   alone on the same decoded frames, through the same batching code: the pipeline's overhead. Also
   against the network time inside the same run, which other load on the machine cannot skew.
3. A 4K frame (3840x2160) on the CPU, in a fresh process each: one pass, and tiles under a 1 GiB
   budget; wall time and peak resident memory (VmHWM) against the planner's estimate.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import torch

from labs.reference_johnson_examples import TransformerNet as ExamplesNet
from style_transfer.transformer_net import TransformerNet, channels_last, to_inference

SIZES = (256, 512, 1024)
REPEATS = {256: 7, 512: 5, 1024: 3}
VIDEO_SIZE, VIDEO_FRAMES = (426, 240), 48


def _median_times(runs: dict[str, Callable[[], object]], repeats: int) -> dict[str, float]:
    """Median seconds per run; the candidates alternate so load changes hit all alike."""
    times: dict[str, list[float]] = {name: [] for name in runs}
    for fn in runs.values():
        fn()  # warm-up: oneDNN builds its kernels for the shape
    for _ in range(repeats):
        for name, fn in runs.items():
            start = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - start)
    return {name: statistics.median(t) for name, t in times.items()}


def forward_times() -> None:
    torch.manual_seed(0)
    reference = ExamplesNet().eval()
    nchw = TransformerNet().eval()
    nchw.load_state_dict(reference.state_dict())
    ours = to_inference(TransformerNet(), "cpu")
    ours.load_state_dict(reference.state_dict())
    print(f"forward pass, batch 1, {torch.get_num_threads()} threads; median of alternating runs")
    print(f"{'size':>6} {'reference':>10} {'ours NCHW':>10} {'ours':>10} {'speed-up':>9}")
    for size in SIZES:
        x = torch.rand(1, 3, size, size)
        x255, x_cl = x * 255, channels_last(x)

        def run_reference(x255: torch.Tensor = x255) -> None:
            with torch.no_grad():
                reference(x255)

        def run_nchw(x: torch.Tensor = x) -> None:
            with torch.inference_mode():
                nchw(x)

        def run_ours(x_cl: torch.Tensor = x_cl) -> None:
            with torch.inference_mode():
                ours(x_cl)

        t = _median_times(
            {"reference": run_reference, "nchw": run_nchw, "ours": run_ours}, REPEATS[size]
        )
        print(
            f"{size:>6} {t['reference']:>9.3f}s {t['nchw']:>9.3f}s {t['ours']:>9.3f}s "
            f"{t['reference'] / t['ours']:>8.2f}x",
            flush=True,
        )


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

    from style_transfer.stylize import stylize_images
    from style_transfer.video import stylize_video

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
                stylize_images(net, frames[i : i + batch], batch_size=batch)

        def pipeline(stabilize: float = 0.0) -> None:
            out = Path(tmp) / "out.mp4"
            report = stylize_video(
                net, clip, out, batch_size=batch, stabilize=stabilize, progress=False
            )
            reports.setdefault(stabilize, []).append(report.seconds / report.network_seconds - 1)

        t = _median_times(
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
from style_transfer.stylize import stylize_image
from style_transfer.transformer_net import TransformerNet
def status(key):
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) * 1024 for line in f if line.startswith(key))
budget = int(sys.argv[1]) or None
torch.manual_seed(0)
net = TransformerNet()
frame = cv2.resize(skimage.data.astronaut(), (3840, 2160), interpolation=cv2.INTER_CUBIC)
before = status("VmRSS:")
start = time.perf_counter()
out = stylize_image(net, frame, budget=budget)
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


def main() -> None:
    forward_times()
    video_overhead()
    four_k()


if __name__ == "__main__":
    main()
