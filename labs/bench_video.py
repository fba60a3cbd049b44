"""Stylising a video on a busy machine: the thread count the command picks against one thread.

    make bench ARGS=video            # or: python -m labs.bench video [--frames 250] [--size 384]

The clip: scikit-image's ``chelsea`` photo panned across (``--frames`` frames, 250 by default,
``--size`` px wide, mp4v), stylised with the shipped ``starry`` model through the ``video``
command's own code (:func:`style_transfer.video.stream.run_video`), each run in a fresh process,
as a user runs it:

(a) ``busy``: another process spins on one core, started first and left until the 1-minute load
    average has seen it (at most ``--settle`` s); then the command as it is (threads by load)
    against the same command under ``OMP_NUM_THREADS=1``, alternating. Floor: within 20% of the
    one-thread time (a fixed two threads ran 14x slower here).
(b) ``idle``: no other load: the whole command's frame rate against the network's own on the
    same frames (the command's network stage: its batches, workers, threads and precision,
    nothing decoded or encoded). Floor: within 10%.

(b) runs first: once the spinner has lifted the load average it takes minutes to fall again, and
an idle run would choose its threads as if the machine were still busy. Wall time; each round
runs the two sides one after the other, and the median of the rounds' ratios is taken. The
machine's other load weighs on (a) as it would on a user's; run (b) on a quiet machine.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np
import skimage.data

from labs.bench import PROG, add_parts_argument

ROOT = Path(__file__).resolve().parents[1]
STYLE = "starry"

# Run in a fresh process: the command's own thread choice happens at its start, as for a user.
RUN_ONE = """
import json, sys, time, torch
from pathlib import Path
from shared.allocator import keep_freed_memory
keep_freed_memory()  # as the command does first
from style_transfer.video import stream
from style_transfer.video.stream import VideoRequest, run_video
clip, out = Path(sys.argv[1]), Path(sys.argv[2])
threads, pipeline = [], stream.transform_video
def counted(*args, **kwargs):  # the count the command chose, seen where it computes
    threads.append(torch.get_num_threads())
    return pipeline(*args, **kwargs)
stream.transform_video = counted
start = time.perf_counter()
report = run_video(VideoRequest(video=clip, style=sys.argv[3], out=out))
seconds = time.perf_counter() - start
print(json.dumps({"seconds": seconds, "frames": report.frames, "pipeline": report.seconds,
                  "network": report.network_seconds, "threads": threads[0],
                  "precision": report.precision}))
"""

NETWORK_ONLY = """
import json, sys, time, cv2, torch
from style_transfer.video.stream import VideoRequest, model_path_for
from style_transfer.johnson.infer import transform_images
from style_transfer.johnson.model_file import load_model
from style_transfer.video.network_stage import NetworkTimer, network_workers, stylised_in_order
from shared.precision import DTYPES, NAMES
from shared.threads import cpu_threads
from shared.allocator import keep_freed_memory
keep_freed_memory()
clip, style, threads, precision = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
frames = []
video = cv2.VideoCapture(clip)
while True:
    ok, frame = video.read()
    if not ok:
        break
    frames.append(cv2.cvtColor(frame, cv2.COLOR_BGR2RGB))
batch = VideoRequest.batch_size
with cpu_threads(threads):
    model, _ = load_model(model_path_for(style, None))
    model = model.to(DTYPES[precision])  # as the command converted it
    transform_images(model, frames[:batch], batch_size=batch)  # warm-up
    # the command's own network stage: its workers, its batches, nothing decoded or encoded
    workers = network_workers(threads, "cpu")
    batches = [frames[i : i + batch] for i in range(0, len(frames), batch)]
    start = time.perf_counter()
    for _ in stylised_in_order(model, batches, workers, NetworkTimer(workers)):
        pass
    seconds = time.perf_counter() - start
print(json.dumps({"seconds": seconds, "frames": len(frames),
                  "precision": NAMES[next(model.parameters()).dtype]}))
"""

SPIN = "while True:\n    pass\n"


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog=f"{PROG} video", description=__doc__.split("\n\n")[0])
    add_parts_argument(p, ("busy", "idle"))
    p.add_argument(
        "--frames", type=int, default=250,
        help="frames in the clip (10 s at 25 fps: long enough that opening the files and the "
        "first batch's kernel set-up weigh as little as in a real video)",
    )  # fmt: skip
    p.add_argument("--size", type=int, default=384, help="the clip's width in px")
    p.add_argument(
        "--rounds",
        type=int,
        default=5,
        help="rounds, each running both variants (median of their ratios)",
    )
    p.add_argument(
        "--settle", type=float, default=75.0, help="longest wait for the load average (s)"
    )
    return p.parse_args(argv)


def write_pan(path: Path, frames: int, width: int) -> Path:
    """``chelsea`` panned left to right, ``frames`` frames of ``width`` x 2/3 ``width``."""
    photo = cv2.cvtColor(skimage.data.chelsea(), cv2.COLOR_RGB2BGR)
    height = (width * 2 // 3) // 2 * 2
    scale = height / photo.shape[0] * 1.0
    photo = cv2.resize(photo, None, fx=scale * 1.25, fy=scale * 1.25, interpolation=cv2.INTER_AREA)
    room = photo.shape[1] - width
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 25, (width, height))
    for k in range(frames):
        left = round(room * k / max(frames - 1, 1))
        writer.write(np.ascontiguousarray(photo[:height, left : left + width]))
    writer.release()
    return path


def run(script: str, *args: str, env: dict[str, str] | None = None) -> dict:
    result = subprocess.run(
        [sys.executable, "-c", script, *args],
        cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT), **(env or {})},
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    return json.loads(result.stdout.strip().splitlines()[-1])


def settle_busy(limit: float) -> subprocess.Popen:
    """A process spinning on one core, once the 1-minute load average shows it (or ``limit``)."""
    spinner = subprocess.Popen([sys.executable, "-c", SPIN])
    start = time.monotonic()
    while os.getloadavg()[0] < 0.9 and time.monotonic() - start < limit:
        time.sleep(1)
    print(f"  one core busy; load average {os.getloadavg()[0]:.2f} after "
          f"{time.monotonic() - start:.0f} s")  # fmt: skip
    return spinner


def bench_busy(clip: Path, out: Path, rounds: int, settle: float) -> float:
    spinner = settle_busy(settle)
    try:
        chosen, single = [], []
        for _ in range(rounds):
            chosen.append(run(RUN_ONE, str(clip), str(out), STYLE))
            single.append(run(RUN_ONE, str(clip), str(out), STYLE, env={"OMP_NUM_THREADS": "1"}))
    finally:
        spinner.kill()
        spinner.wait()
    a = statistics.median(r["seconds"] for r in chosen)
    b = statistics.median(r["seconds"] for r in single)
    ratios = [c["seconds"] / s["seconds"] for c, s in zip(chosen, single, strict=True)]
    threads = chosen[0]["threads"]
    print(f"(a) one core busy: by load {a:.2f} s ({threads} thread(s)), OMP_NUM_THREADS=1 "
          f"{b:.2f} s: {statistics.median(ratios):.2f}x the one-thread time, rounds "
          f"{_spread(ratios, '.2f')} (floor 1.20x)")  # fmt: skip
    return statistics.median(ratios)


def _spread(values: list[float], spec: str) -> str:
    return f"{min(values):{spec}}-{max(values):{spec}}"


def bench_idle(clip: Path, out: Path, rounds: int) -> float:
    """The command and its network stage alone, alternating: a round's two runs are seconds
    apart, where a frame rate drifts by a tenth or more between runs minutes apart."""
    whole, alone = [], []
    for k in range(rounds):
        whole.append(run(RUN_ONE, str(clip), str(out), STYLE))
        threads, precision = whole[-1]["threads"], whole[-1]["precision"]  # as it chose
        alone.append(run(NETWORK_ONLY, str(clip), STYLE, str(threads), precision))
        print(f"  round {k + 1}: {threads} thread(s), the command {whole[-1]['pipeline']:.2f} s, "
              f"the network alone {alone[-1]['seconds']:.2f} s")  # fmt: skip
    frames = whole[0]["frames"]
    command = frames / statistics.median(r["pipeline"] for r in whole)
    network = frames / statistics.median(r["seconds"] for r in alone)
    shares = [n["seconds"] / w["pipeline"] for w, n in zip(whole, alone, strict=True)]
    print(f"(b) idle, {threads} thread(s), {precision}: the command {command:.2f} frames/s "
          f"(decode, network, encode), the network alone {network:.2f} frames/s: "
          f"{statistics.median(shares):.0%} of it, rounds {_spread(shares, '.0%')} "
          f"(floor 90%)")  # fmt: skip
    return statistics.median(shares)


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        clip = write_pan(Path(tmp) / "pan.mp4", args.frames, args.size)
        out = Path(tmp) / "pan_starry.mp4"
        print(f"clip: {args.frames} frames, {args.size} px wide; style {STYLE}; "
              f"{os.cpu_count()} cores")  # fmt: skip
        summary = []
        # Idle first: after the spinner the load average needs minutes to fall again.
        if "idle" in args.parts:
            summary.append(f"idle {bench_idle(clip, out, args.rounds):.0%} of the network's rate")
        if "busy" in args.parts:
            ratio = bench_busy(clip, out, args.rounds, args.settle)
            summary.append(f"busy {ratio:.2f}x one thread")
    print("ratios: " + "; ".join(summary))
