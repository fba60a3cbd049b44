"""Johnson network speed, side by side: ``make bench ARGS=johnson``.

    python -m labs.bench johnson                                  # all four parts
    python -m labs.bench johnson --parts forward --sizes 256 512
    OMP_NUM_THREADS=1 python -m labs.bench johnson --parts backends   # PyTorch vs onnxruntime
    make bench ARGS="johnson --reference ~/src/examples"          # + pytorch/examples' own net

1. Forward time at 256, 512 and 1024 px: ours (channels_last, up-sampling computed as one
   transposed convolution, inference mode) against the baseline network written from the paper
   (``labs/baselines/johnson_net.py``: the same layers and the same weights, built the plain way,
   NCHW float32 under ``no_grad``), plus ours in NCHW to show what the layout alone gains, and
   ours in the precision ``--precision auto`` takes on this machine (bfloat16 where the CPU
   computes it natively and it pays, the network itself converted; else float32). The
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
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import torch
from torch import nn

from labs import peer_code
from labs.baselines.johnson_net import from_transformer_net
from labs.bench import add_parts_argument
from labs.johnson_pipeline import four_k, video_overhead
from labs.timing import median_times
from shared.errors import UserError
from shared.precision import NAMES, describe_capability
from style_transfer.johnson.infer import choose_precision
from style_transfer.johnson.net import TransformerNet, channels_last, to_inference

SIZES = (256, 512, 1024)
BACKEND_SIZES = (512, 1024)
REPEATS = {256: 7, 512: 5, 1024: 3}
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
    auto: nn.Module  # ours in the dtype ``--precision auto`` picks here, converted as stylize does
    auto_dtype: torch.dtype
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
    dtype = choose_precision(ours, "auto", torch.device("cpu"))
    auto = copy.deepcopy(ours).to(dtype)
    return Nets(ours, nchw, from_transformer_net(nchw), auto, dtype, peer)


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

    x_auto = x_cl.to(nets.auto_dtype)

    def auto() -> None:
        with torch.inference_mode():
            nets.auto(x_auto)

    runs = {"baseline": baseline, "ours NCHW": nchw, "ours": ours, "auto": auto}
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
    auto = NAMES[nets.auto_dtype]
    print(
        f"auto: ours in {auto}, the precision `stylize --precision auto` takes here "
        f"({describe_capability(torch.device('cpu'))}); its speed-ups against the baseline and "
        "against ours in float32"
    )
    columns = ["baseline", "ours NCHW", "ours", "speed-up", "auto", "vs baseline", "vs ours"]
    columns += ["reference", "vs reference"] if nets.peer is not None else []
    print(f"{'size':>6}" + "".join(f" {c:>12}" for c in columns))
    for size, t in forward_times(nets, sizes, repeats).items():
        cells = [f"{t[n]:.3f} s" for n in ("baseline", "ours NCHW", "ours")]
        cells.append(f"{t['baseline'] / t['ours']:.2f}x")
        cells += [f"{t['auto']:.3f} s", f"{t['baseline'] / t['auto']:.2f}x"]
        cells.append(f"{t['ours'] / t['auto']:.2f}x")
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
