"""Johnson's single pass against Gatys run to convergence, on the same photo: the speed-up of
Johnson et al.'s Table I, measured here.

    make bench ARGS=johnson_vs_gatys       # python -m labs.bench johnson_vs_gatys
    python -m labs.bench_johnson_vs_gatys --sizes 256 --iters 600   # a longer Gatys run

For each size (the photo's longer side; 256 and 512 px, as in Table I):

- Gatys exactly as ``make stylize METHOD=gatys SIZE=<size>`` runs it: the defaults of
  ``python -m style_transfer stylize`` (loss network ``auto``, LBFGS, 200 iterations, one scale),
  from the same request through the same library calls (``style_transfer.gatys.run``'s
  ``settings_for`` and ``build_network``). Timed as the command times it: targets plus
  iterations, not building the loss network.
  Convergence, two readings: (1) the whole default run, the iterations a user waits for;
  (2) the first iteration whose loss is within 1% of the lowest loss the run reaches.
- Johnson: one forward pass of a default-size ``TransformerNet`` on the same photo at the same
  size, in inference mode, channels_last (as ``style_transfer.johnson.infer`` runs it); the
  median of several passes after a warm-up. The registered ``starry`` model when there is one,
  else random weights: a forward pass costs the same whatever the weights.

Both run in one process with the same thread count (the project's ``auto_threads`` choice). Gatys
runs once per size (it takes minutes); on a machine shared with other work its time moves with
the load, so the load average is printed with the table.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from dataclasses import dataclass

import torch

from shared.threads import cpu_threads
from style_transfer.gatys.optimise import optimise_image
from style_transfer.gatys.run import build_network, settings_for
from style_transfer.images import DEFAULT_CONTENT, read_image, resize
from style_transfer.johnson.model_file import load_model
from style_transfer.johnson.net import TransformerNet, channels_last, to_inference
from style_transfer.request import StylizeRequest
from style_transfer.styles import get_style

SIZES = (256, 512)
STYLE = "starry"
REPEATS = 5
TOLERANCE = 0.01


@dataclass(frozen=True)
class Row:
    """One size: Gatys's default run, its 1%-convergence point, one Johnson pass, the ratios."""

    size: int  # longer side, px
    height: int
    width: int
    gatys_iters: int
    gatys_s: float
    converged_iters: int  # first iteration within TOLERANCE of the run's lowest loss
    converged_s: float
    johnson_s: float
    speedup: float  # gatys_s / johnson_s
    converged_speedup: float  # converged_s / johnson_s
    loss_first: float
    loss_best: float
    tail_drop: float  # relative loss drop over the last tenth of the run: still falling?


def iterations_to_within(losses: list[float], tolerance: float = TOLERANCE) -> int:
    """1-based index of the first loss within ``tolerance`` (relative) of the lowest loss."""
    best = min(losses)
    return next(i for i, v in enumerate(losses, 1) if v <= best + tolerance * abs(best))


def gatys_request(size: int, iters: int | None) -> StylizeRequest:
    """What ``make stylize STYLE=starry METHOD=gatys SIZE=<size> [ITERS=n]`` asks for."""
    options = {"iters": iters} if iters else {}
    return StylizeRequest(style=STYLE, method="gatys", size=size, options=options)


def johnson_model() -> tuple[torch.nn.Module, str]:
    """The registered model for STYLE if there is one, else a default-size net, random weights."""
    style = get_style(STYLE)
    if style.has_model:
        model, _ = load_model(style.model_path)
        return model, f"{STYLE} model ({style.model_path.name})"
    torch.manual_seed(0)
    return TransformerNet(), "default TransformerNet, random weights (no trained model found)"


def time_johnson(model: torch.nn.Module, image: torch.Tensor, repeats: int) -> float:
    """Median seconds of one forward pass on ``image`` (3, H, W), after a warm-up pass."""
    x = channels_last(image.unsqueeze(0))
    times = []
    with torch.inference_mode():
        model(x)  # warm-up: oneDNN picks and builds its kernels for this shape
        for _ in range(repeats):
            start = time.perf_counter()
            model(x)
            times.append(time.perf_counter() - start)
    return statistics.median(times)


def measure(
    sizes: tuple[int, ...] = SIZES,
    *,
    iters: int | None = None,
    repeats: int = REPEATS,
    progress: bool = True,
) -> tuple[list[Row], dict[str, str]]:
    """One row per size, and a description of what ran (loss network, Johnson model, threads).

    ``iters``: Gatys iterations (default: the stylize command's). Uses the current thread count.
    """
    content = read_image(DEFAULT_CONTENT)
    painting = read_image(get_style(STYLE).image_path)
    model, model_note = johnson_model()
    model = to_inference(model, "cpu")
    rows, info = [], {"johnson": model_note, "threads": str(torch.get_num_threads())}
    net = None
    for size in sizes:
        config, network = settings_for(gatys_request(size, iters))
        torch.manual_seed(config.seed)
        if net is None:  # its layers do not depend on the size: built once
            net = build_network(network, config, torch.device("cpu"))
        info["gatys"] = f"{net.describe()}, {config.optimizer}, {config.iters} iterations"
        result = optimise_image(content, [painting], net, config, progress=progress)
        h = result.history
        n = iterations_to_within(h.total)
        height, width = result.image.shape[-2:]
        # The photo at the very size Gatys produced: the same pixels for both methods.
        johnson_s = time_johnson(model, resize(content, (height, width)), repeats)
        tail = max(1, len(h.total) // 10)
        rows.append(
            Row(
                size=size,
                height=height,
                width=width,
                gatys_iters=len(h.total),
                gatys_s=result.seconds,
                converged_iters=n,
                converged_s=h.seconds[n - 1],
                johnson_s=johnson_s,
                speedup=result.seconds / johnson_s,
                converged_speedup=h.seconds[n - 1] / johnson_s,
                loss_first=h.total[0],
                loss_best=min(h.total),
                tail_drop=1 - h.total[-1] / h.total[-1 - tail],
            )
        )
    return rows, info


def format_table(rows: list[Row]) -> str:
    """Markdown: size, Gatys iterations and seconds (full run; to within 1%), Johnson, speed-ups."""
    lines = [
        "| size | Gatys iterations | Gatys s | within 1%: iterations | s | Johnson s | "
        "speed-up | speed-up to 1% |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in rows:
        lines.append(
            f"| {r.width}x{r.height} | {r.gatys_iters} | {r.gatys_s:.1f} | {r.converged_iters} | "
            f"{r.converged_s:.1f} | {r.johnson_s:.3f} | {r.speedup:.0f}x | "
            f"{r.converged_speedup:.0f}x |"
        )
    return "\n".join(lines)


def parse_args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="python -m labs.bench_johnson_vs_gatys",
        description="Johnson's single pass against Gatys run to convergence, same photo.",
    )
    p.add_argument("--sizes", type=int, nargs="+", default=list(SIZES), help="longer sides, px")
    p.add_argument("--iters", type=int, help="Gatys iterations (default: the stylize command's)")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    """``make bench`` calls this with no arguments: the default sizes and iterations."""
    args = parse_args(argv or [])
    load_before = os.getloadavg()
    # One count for both methods: the one the stylize command itself would pick now.
    with cpu_threads(None):
        rows, info = measure(tuple(args.sizes), iters=args.iters, progress=None)
    load_after = os.getloadavg()
    print(f"content {DEFAULT_CONTENT}, style {STYLE}, {info['threads']} thread(s)")
    print(f"Gatys: {info['gatys']}")
    print(f"Johnson: {info['johnson']}, median of {REPEATS} passes after a warm-up")
    print(format_table(rows))
    for r in rows:
        print(
            f"{r.size} px: Gatys loss {r.loss_first:.4g} -> lowest {r.loss_best:.4g}; "
            f"{r.tail_drop:.1%} lower over the last tenth of the run"
        )
    print(
        "load average (1, 5, 15 min) before "
        + ", ".join(f"{v:.2f}" for v in load_before)
        + "; after "
        + ", ".join(f"{v:.2f}" for v in load_after),
        flush=True,
    )


if __name__ == "__main__":
    main(sys.argv[1:])
