"""Johnson network speed, side by side: ``make bench ARGS=johnson``.

    python -m labs.bench johnson                                  # all four parts
    python -m labs.bench johnson --parts forward --sizes 256 512
    OMP_NUM_THREADS=1 python -m labs.bench johnson --parts backends   # PyTorch vs onnxruntime
    make bench ARGS="johnson --reference ~/src/examples"          # + pytorch/examples' own net

1. Forward time at 256, 512 and 1024 px: ours (channels_last, up-sampling computed as one
   transposed convolution, inference mode) against the baseline network written from the paper
   (``labs/baselines/johnson_net.py``: the same layers and the same weights, built the plain way,
   NCHW float32 under ``no_grad``), plus ours in NCHW to show what the layout alone gains. The
   outputs are checked to agree first. With ``--reference PATH`` (a checkout of pytorch/examples,
   or the file itself) the peer's own ``TransformerNet`` is imported from there and timed too, as
   its ``stylize`` runs it (0-255 input, NCHW, ``no_grad``), with our weights when they load by
   name. Runs alternate; medians are reported.
2. Backends: the same network and weights, batch 1, at 512 and 1024 px, in PyTorch float32 and
   bfloat16 (the network converted, as ``stylize --precision bf16`` runs it) and in onnxruntime
   (the ONNX export ``stylize --backend onnxruntime`` runs: CPU provider, float32, intra-op
   threads = PyTorch's count), after checking that onnxruntime's output agrees.
3. The video pipeline (decode thread, batched inference, flow + encode thread) against the network
   alone on the same decoded frames, through the same batching code: the pipeline's overhead. Also
   against the network time inside the same run, which other load on the machine cannot skew.
4. A 4K frame (3840x2160) on the CPU, in a fresh process each: one pass, and tiles under a 1 GiB
   budget; wall time and peak resident memory (VmHWM) against the planner's estimate.
"""

from __future__ import annotations

import argparse
import copy
import importlib.util
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import torch
from torch import nn

from labs import peer_code
from labs.baselines.johnson_net import from_transformer_net
from labs.bench import add_parts_argument
from shared.errors import UserError
from shared.precision import describe_capability
from style_transfer.johnson.net import TransformerNet, channels_last, to_inference

SIZES = (256, 512, 1024)
BACKEND_SIZES = (512, 1024)
REPEATS = {256: 7, 512: 5, 1024: 3}
VIDEO_SIZE, VIDEO_FRAMES = (426, 240), 48
PARTS = ("forward", "backends", "video", "4k")
PEER_FILE = "fast_neural_style/neural_style/transformer_net.py"
PEER_CANDIDATES = (PEER_FILE, "neural_style/transformer_net.py", "transformer_net.py")


@dataclass
class Peer:
    """The peer's network, and whether it holds our weights (its layers took our state dict)."""

    net: nn.Module
    file: Path
    same_weights: bool


@dataclass
class Nets:
    """One set of weights in every implementation timed."""

    ours: nn.Module  # channels_last, inference layout
    nchw: TransformerNet
    baseline: nn.Module
    peer: Peer | None = None


def load_peer(path: Path, ours: TransformerNet) -> Peer:
    """pytorch/examples' ``TransformerNet()`` from the user's checkout, with ``ours``'s weights
    when its parameter names and shapes take them (ours kept that naming)."""
    file = peer_code.find_file(path, PEER_CANDIDATES)
    module = peer_code.import_file(file, needs=["TransformerNet"])
    try:
        net = module.TransformerNet()
    except Exception as exc:  # whatever its constructor raises, the file is not what we call
        raise UserError(f"--reference {file}: TransformerNet() failed ({exc})") from None
    try:
        net.load_state_dict(ours.state_dict())
        same = True
    except RuntimeError:  # other names or shapes: its own initial weights
        same = False
    return Peer(net.eval(), file, same)


def build_nets(reference: Path | None = None, seed: int = 0) -> Nets:
    torch.manual_seed(seed)
    nchw = TransformerNet().eval()
    ours = to_inference(TransformerNet(), "cpu")
    ours.load_state_dict(nchw.state_dict())
    peer = None if reference is None else load_peer(reference, nchw)
    return Nets(ours, nchw, from_transformer_net(nchw), peer)


def run_peer(peer: Peer, x: torch.Tensor) -> torch.Tensor:
    """The peer's output for a [0, 1] image, mapped to ours: it works in 0-255 and ours ends in a
    sigmoid, so with the same weights ``sigmoid(peer(255 x)) == ours(x)``."""
    with torch.no_grad():
        try:
            y = peer.net(x * 255)
        except Exception as exc:  # its forward is the peer's; say which file failed, in one line
            raise UserError(f"--reference {peer.file}: its forward pass failed ({exc})") from None
    return torch.sigmoid(y)


def agreement(nets: Nets, size: int) -> dict[str, float]:
    """Largest difference from ours, per implementation, on one random image."""
    x = torch.rand(1, 3, size, size)
    with torch.no_grad():
        expected = nets.nchw(x)
        found = {
            "baseline": nets.baseline(x),
            "ours": nets.ours(channels_last(x)),
        }
    if nets.peer is not None and nets.peer.same_weights:
        found["reference"] = run_peer(nets.peer, x)
    return {
        name: (y - expected).abs().max().item() if y.shape == expected.shape else float("inf")
        for name, y in found.items()
    }


def median_times(runs: dict[str, Callable[[], object]], repeats: int) -> dict[str, float]:
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


def forward_runs(nets: Nets, size: int) -> dict[str, Callable[[], object]]:
    x = torch.rand(1, 3, size, size)
    x_cl = channels_last(x)

    def baseline() -> None:
        with torch.no_grad():
            nets.baseline(x)

    def nchw() -> None:
        with torch.inference_mode():
            nets.nchw(x)

    def ours() -> None:
        with torch.inference_mode():
            nets.ours(x_cl)

    runs = {"baseline": baseline, "ours NCHW": nchw, "ours": ours}
    if nets.peer is not None:
        runs["reference"] = lambda: run_peer(nets.peer, x)
    return runs


def forward_times(
    nets: Nets, sizes: Sequence[int] = SIZES, repeats: int | None = None
) -> dict[int, dict[str, float]]:
    """size -> implementation -> median seconds of one forward pass, batch 1."""
    return {
        size: median_times(forward_runs(nets, size), repeats or REPEATS.get(size, 3))
        for size in sizes
    }


def describe_peer(peer: Peer, agree: dict[str, float]) -> str:
    if not peer.same_weights:
        return f"reference: {peer.file}, its own initial weights (ours do not fit its layers)"
    return (
        f"reference: {peer.file}, our weights; max |sigmoid(reference(255 x)) - ours(x)| "
        f"{agree['reference']:.2g}"
    )


def print_forward(nets: Nets, sizes: Sequence[int], repeats: int | None) -> None:
    agree = agreement(nets, sizes[0])
    print(
        f"forward pass, batch 1, {torch.get_num_threads()} thread(s); median of alternating runs\n"
        f"largest difference from ours in NCHW at {sizes[0]} px: baseline {agree['baseline']:.2g}, "
        f"ours in channels_last {agree['ours']:.2g}"
    )
    if nets.peer is not None:
        print(describe_peer(nets.peer, agree))
    columns = ["baseline", "ours NCHW", "ours", "speed-up"]
    columns += ["reference", "vs reference"] if nets.peer is not None else []
    print(f"{'size':>6}" + "".join(f" {c:>12}" for c in columns))
    for size, t in forward_times(nets, sizes, repeats).items():
        cells = [f"{t[n]:.3f} s" for n in ("baseline", "ours NCHW", "ours")]
        cells.append(f"{t['baseline'] / t['ours']:.2f}x")
        if nets.peer is not None:
            cells += [f"{t['reference']:.3f} s", f"{t['reference'] / t['ours']:.2f}x"]
        print(f"{size:>6}" + "".join(f" {c:>12}" for c in cells), flush=True)


def backend_times(
    nets: Nets, sizes: Sequence[int], repeats: int | None
) -> tuple[dict[int, dict[str, float]], float]:
    """size -> backend -> median seconds, and onnxruntime's largest difference from PyTorch."""
    from style_transfer.johnson.onnx_runtime import OnnxNet

    onnx = OnnxNet.from_model(nets.nchw, threads=torch.get_num_threads())
    bf16 = copy.deepcopy(nets.ours).to(torch.bfloat16)
    times = {}
    with torch.inference_mode():
        for size in sizes:
            x = channels_last(torch.rand(1, 3, size, size))
            runs = {"fp32": partial(nets.ours, x), "bf16": partial(bf16, x.bfloat16())}
            runs["onnx"] = partial(onnx, x)
            times[size] = median_times(runs, repeats or REPEATS.get(size, 3))
        return times, (onnx(x) - nets.ours(x)).abs().max().item()


def print_backends(nets: Nets, sizes: Sequence[int], repeats: int | None) -> None:
    threads, cpu = torch.get_num_threads(), describe_capability(torch.device("cpu"))
    print(f"\nbackends, batch 1, {threads} thread(s), onnxruntime's intra-op too; {cpu}")
    if importlib.util.find_spec("onnxruntime") is None:
        print("onnxruntime is not installed (pip install onnxruntime): nothing to compare")
        return
    times, differs = backend_times(nets, sizes, repeats)
    print(f"largest difference, onnxruntime from PyTorch fp32: {differs:.2g}; (n.nnx): speed-up")
    print(f"{'backend':<12} {'precision':<9}" + "".join(f" {f'{s} px':>18}" for s in sizes))
    for label, key in (("PyTorch", "fp32"), ("PyTorch", "bf16"), ("onnxruntime", "onnx")):
        cells = [f"{t[key]:.3f} s" + (f" ({t['fp32'] / t[key]:.2f}x)" if key != "fp32" else "")
                 for t in times.values()]  # fmt: skip
        row = f"{label:<12} {key.replace('onnx', 'fp32'):<9}"
        print(row + "".join(f" {c:>18}" for c in cells), flush=True)


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


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m labs.bench johnson",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--reference",
        type=Path,
        metavar="PATH",
        help=f"a checkout of pytorch/examples (its {PEER_FILE} is imported) or that file itself: "
        "its TransformerNet is timed next to ours and the baseline",
    )
    add_parts_argument(parser, PARTS)
    parser.add_argument(
        "--sizes",
        nargs="+",
        type=int,
        help=f"forward pass sizes, px (default: {' '.join(map(str, SIZES))}; backends: "
        f"{' '.join(map(str, BACKEND_SIZES))})",
    )
    parser.add_argument(
        "--repeats",
        type=int,
        help="timed runs per size (default: "
        + ", ".join(f"{n} at {size} px" for size, n in REPEATS.items())
        + ")",
    )
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(argv)
    nets = build_nets(args.reference)  # a wrong --reference fails here, before any timing
    if "forward" in args.parts:
        print_forward(nets, args.sizes or SIZES, args.repeats)
    if "backends" in args.parts:
        print_backends(nets, args.sizes or BACKEND_SIZES, args.repeats)
    if "video" in args.parts:
        video_overhead()
    if "4k" in args.parts:
        four_k()


if __name__ == "__main__":
    from labs import bench

    sys.exit(bench.main(["johnson", *sys.argv[1:]]))
