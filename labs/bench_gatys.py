"""Gatys speed, side by side in one process: ours against the paper's algorithm written plainly.

    make bench ARGS=gatys                                   # python -m labs.bench gatys
    make bench ARGS="gatys --reference ~/src/tutorials"     # + the PyTorch tutorial's own code

1. Seconds per LBFGS iteration (one loss + gradient evaluation) at 256 and 512 px: the same
   randomly initialised VGG19 (ImageNet weights are not needed to time it), the paper's layers
   (relu1_1 ... relu5_1 for style, relu4_2 for content), max pooling and raw weights, the same
   photo and painting, the same objective. Rows: the baseline (``labs/baselines/
   gatys_algorithm.py``: the paper's algorithm with the common implementation choices, plain
   NCHW float32); ours; ours with the loss network's weights left requiring grad (a common slip,
   isolated). With ``--reference PATH`` (a checkout of pytorch/tutorials, or the script itself)
   the tutorial's own ``run_style_transfer`` is timed too, imported from the user's file and set
   to the same layers. Implementations alternate, medians are reported, so a busy machine slows
   all of them alike. The first losses are printed too: equal first losses show that every row
   computes the same objective.
2. Multi-scale vs single-scale at 1024 px, EfficientNet-Lite0 (VGG19 at 1024 px takes several
   seconds per step on a CPU): time for 256 -> 512 -> 1024 px to reach the loss that 1024 px
   alone reaches after its iterations.
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import functools
import io
import itertools
import statistics
import sys
import time
import warnings
from collections.abc import Iterator, Sequence
from pathlib import Path
from types import ModuleType

import torch
from torch import nn

from labs import peer_code
from labs.baselines.gatys_algorithm import (
    PAPER_CONTENT_LAYER,
    PAPER_STYLE_LAYERS,
    GatysSettings,
    Trace,
    gatys_transfer,
)
from labs.bench import add_parts_argument
from shared import backbones
from shared.errors import UserError
from shared.threads import cpu_threads
from style_transfer.gatys.config import GatysConfig
from style_transfer.gatys.optimise import optimise_image
from style_transfer.images import fit_size, read_image, resize
from style_transfer.loss_network import build_loss_network, vgg_layer_names
from style_transfer.styles import get_style

ITERS = {256: 8, 512: 4}
ROUNDS = 2
STYLE_WEIGHT = GatysSettings().style_weight
MULTI_SCALES, MULTI_ITERS, SINGLE_ITERS = (256, 512, 1024), (60, 30), 20
PARTS = ("per_iteration", "multiscale")
TUTORIAL_FILE = "advanced_source/neural_style_tutorial.py"
TUTORIAL_CANDIDATES = (TUTORIAL_FILE, "neural_style_tutorial.py")
TUTORIAL_NEEDS = ("run_style_transfer", "get_style_model_and_losses")


def load_tutorial(path: Path) -> ModuleType:
    """The tutorial's definitions from the user's copy; its script part (which loads its own
    images, downloads VGG19 and runs 300 steps) is left out. Its functions read a global
    ``device``, set by that script part: the CPU here."""
    file = peer_code.find_file(path, TUTORIAL_CANDIDATES)
    return peer_code.import_definitions(
        file, TUTORIAL_NEEDS, namespace={"device": torch.device("cpu")}
    )


def tutorial_layer(features: nn.Sequential, ours: str) -> str:
    """``relu4_2`` -> ``relu_10``: the tutorial numbers every layer by the convolutions so far."""
    names = vgg_layer_names(features)
    convs = sum(name.startswith("conv") for name in names[: names.index(ours) + 1])
    return f"{ours[:4]}_{convs}"


def images(size: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The photo at ``size`` (longer side) and the painting stretched to the same shape, since
    the tutorial's model runs the style image through its content-loss modules too."""
    photo, paint = read_image("chelsea"), read_image(get_style("starry").image_path)
    content = resize(photo, fit_size(*photo.shape[-2:], size))
    return content, resize(paint, tuple(content.shape[-2:]))


def per_iteration(stamps: list[float]) -> list[float]:
    # The first evaluation carries one-off costs (allocations, LBFGS state): left out.
    return [b - a for a, b in itertools.pairwise(stamps)]


def time_baseline(features, content, style, iters: int) -> tuple[list[float], float]:
    _, trace = gatys_transfer(features, content, style, GatysSettings(iterations=iters))
    return per_iteration(trace.stamps), trace.losses[0]


def time_ours(
    model: nn.Module, content, style, iters: int, weights_require_grad: bool
) -> tuple[list[float], float]:
    net = build_loss_network(
        "vgg19", model=model, layers=[PAPER_CONTENT_LAYER, *PAPER_STYLE_LAYERS], pooling="max"
    )
    net.requires_grad_(weights_require_grad)
    config = GatysConfig(
        content_layers=[PAPER_CONTENT_LAYER],
        style_layers=dict.fromkeys(PAPER_STYLE_LAYERS, 1.0),
        # Ours averages the style layers, the paper's objective sums them: the same this way.
        style_weight=STYLE_WEIGHT * len(PAPER_STYLE_LAYERS),
        tv_weight=0.0,
        normalize=False,
        scales=(max(content.shape[-2:]),),
        iters=iters,
    )
    result = optimise_image(content, [style], net, config, progress=False)
    return per_iteration(result.history.seconds), result.history.total[0]


class _Enough(Exception):
    """Raised from inside a peer's closure once it has been evaluated often enough."""


@contextlib.contextmanager
def lbfgs_traced(iters: int) -> Iterator[Trace]:
    """While active, any ``torch.optim.LBFGS`` records each evaluation of its closure and ends
    the run after ``iters`` of them: the tutorial's loop runs whole 20-iteration steps and
    reports no times, so this is how it is timed without changing its code."""
    trace, original = Trace(), torch.optim.LBFGS

    class Traced(original):
        def step(self, closure):
            def traced():
                loss = closure()
                trace.losses.append(float(loss))
                trace.stamps.append(time.perf_counter())
                if len(trace.losses) >= iters:
                    raise _Enough
                return loss

            return super().step(traced)

    torch.optim.LBFGS = Traced
    try:
        yield trace
    finally:
        torch.optim.LBFGS = original


def time_tutorial(
    tutorial: ModuleType, features, content, style, iters: int
) -> tuple[list[float], float]:
    build = tutorial.get_style_model_and_losses
    tutorial.get_style_model_and_losses = functools.partial(
        build,
        content_layers=[tutorial_layer(features, PAPER_CONTENT_LAYER)],
        style_layers=[tutorial_layer(features, n) for n in PAPER_STYLE_LAYERS],
    )
    spec = backbones.get_spec("vgg19")
    quiet = contextlib.redirect_stdout(io.StringIO())
    try:
        with lbfgs_traced(iters) as trace, quiet, warnings.catch_warnings():
            warnings.simplefilter("ignore")  # its copies of tensors warn at every build
            tutorial.run_style_transfer(
                copy.deepcopy(features).eval(),
                torch.tensor(spec.mean),
                torch.tensor(spec.std),
                content[None],
                style[None],
                content[None].clone(),
                num_steps=iters,
                style_weight=STYLE_WEIGHT,
            )
    except _Enough:
        pass
    except Exception as exc:  # the peer's code: any failure is one line naming its file
        reason = f"run_style_transfer failed ({exc})"
        raise UserError(f"--reference {tutorial.__file__}: {reason}") from None
    finally:
        tutorial.get_style_model_and_losses = build
    return per_iteration(trace.stamps), trace.losses[0]


def measure_size(
    model: nn.Module, size: int, iters: int, rounds: int, tutorial: ModuleType | None
) -> tuple[str, dict[str, float], dict[str, float]]:
    """(image size label, implementation -> median s / iteration, -> first loss) at ``size``."""
    content, style = images(size)
    runs = {
        "baseline": lambda: time_baseline(model.features, content, style, iters),
        "ours": lambda: time_ours(model, content, style, iters, False),
        "ours, weights need grad": lambda: time_ours(model, content, style, iters, True),
    }
    if tutorial is not None:
        runs["tutorial"] = lambda: time_tutorial(tutorial, model.features, content, style, iters)
    times: dict[str, list[float]] = {name: [] for name in runs}
    losses: dict[str, float] = {}
    for _ in range(rounds):
        for name, run in runs.items():
            t, losses[name] = run()
            times[name] += t
    label = f"{content.shape[-1]}x{content.shape[-2]}"
    return label, {k: statistics.median(v) for k, v in times.items()}, losses


def compare_per_iteration(
    model: nn.Module,
    sizes: Sequence[int],
    iters: int | None = None,
    rounds: int = ROUNDS,
    tutorial: ModuleType | None = None,
) -> None:
    print(
        "seconds per LBFGS iteration, VGG19 (random weights), layers relu1_1..relu5_1 + "
        f"relu4_2, median of {rounds} alternating rounds; {torch.get_num_threads()} thread(s)"
    )
    names = ["baseline", "ours", "ours, weights need grad"]
    names += ["tutorial"] if tutorial is not None else []
    print(
        f"{'size':>9} | " + " | ".join(f"{n:>8}" for n in names) + " | ours faster by | "
        "first loss " + " / ".join(n for n in names if n != "ours, weights need grad")
    )
    for size in sizes:
        label, med, first = measure_size(model, size, iters or ITERS.get(size, 4), rounds, tutorial)
        faster = f"{med['baseline'] / med['ours']:.2f}x"
        if tutorial is not None:
            faster += f" ({med['tutorial'] / med['ours']:.2f}x the tutorial)"
        losses = " / ".join(f"{v:.6g}" for k, v in first.items() if k != "ours, weights need grad")
        cells = " | ".join(f"{med[n]:>{max(8, len(n))}.3f}" for n in names)
        print(f"{label:>9} | {cells} | {faster:>14} | {losses}", flush=True)


def compare_multiscale() -> None:
    content, style = read_image("chelsea"), read_image(get_style("starry").image_path)
    net = build_loss_network("efficientnet_lite0", pretrained="auto")
    single = optimise_image(
        content, [style], net, GatysConfig(scales=(1024,), iters=SINGLE_ITERS), progress=False
    )
    target = single.history.total[-1]
    config = GatysConfig(scales=MULTI_SCALES, iters=(*MULTI_ITERS, SINGLE_ITERS))
    start = time.perf_counter()
    multi = optimise_image(content, [style], net, config, progress=False, stop_below=target)
    multi_s = time.perf_counter() - start
    at_1024 = len(multi.history.total) - multi.history.scale_starts[-1]
    reached = multi.history.total[-1] <= target
    print(f"\nmulti-scale vs single-scale at 1024 px ({net.describe()}):")
    print(
        f"  single 1024 px: {SINGLE_ITERS} iterations, {single.seconds:.1f} s, loss "
        f"{single.history.total[0]:.4g} -> {target:.4g}"
    )
    print(
        f"  multi {'->'.join(map(str, MULTI_SCALES))} px ({MULTI_ITERS[0]} + {MULTI_ITERS[1]} "
        f"+ {at_1024} iterations): {multi_s:.1f} s, loss at 1024 px {multi.history.total[-1]:.4g}"
        f" ({'reached' if reached else 'did NOT reach'} {target:.4g})"
    )
    if reached:
        print(f"  multi-scale reaches the same loss {single.seconds / multi_s:.2f}x sooner")


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m labs.bench gatys",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--reference",
        type=Path,
        metavar="PATH",
        help=f"a checkout of pytorch/tutorials (its {TUTORIAL_FILE} is read) or that script "
        "itself: its definitions are imported, not its script part, and its "
        "run_style_transfer is timed next to ours and the baseline",
    )
    add_parts_argument(parser, PARTS)
    parser.add_argument(
        "--sizes",
        nargs="+",
        type=int,
        default=list(ITERS),
        help=f"per-iteration sizes, px (default: {' '.join(map(str, ITERS))})",
    )
    parser.add_argument(
        "--iters",
        type=int,
        help="timed iterations per run (default: "
        + ", ".join(f"{n} at {size} px" for size, n in ITERS.items())
        + ")",
    )
    parser.add_argument(
        "--rounds", type=int, default=ROUNDS, help=f"alternating rounds (default: {ROUNDS})"
    )
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(argv)
    tutorial = None if args.reference is None else load_tutorial(args.reference)
    # Every row gets the same thread count; on a machine busy with other work one thread is
    # both faster and steadier than two (see shared.threads.auto_threads).
    with cpu_threads(None):
        if "per_iteration" in args.parts:
            torch.manual_seed(0)
            model = backbones.create("vgg19", pretrained="no")
            compare_per_iteration(model, args.sizes, args.iters, args.rounds, tutorial)
        if "multiscale" in args.parts:
            compare_multiscale()


if __name__ == "__main__":
    from labs import bench

    sys.exit(bench.main(["gatys", *sys.argv[1:]]))
