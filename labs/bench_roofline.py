"""How close each workload comes to this machine's limit: ``make bench ARGS=roofline``.

    python -m labs.bench roofline                          # peaks, then every workload
    python -m labs.bench roofline --parts peak johnson     # some of them
    python -m labs.bench roofline --threads 1

First the machine's peaks, measured here, in float32 and bfloat16: a square matrix product and a
3x3 convolution (128 channels in and out, 256 px, channels_last, the layout oneDNN is fastest in).
Then each workload, in both precisions: the Johnson network's forward pass at 512 and 1024 px (the
paper's widths, inference mode; then compiled for that size, as ``--compile`` runs it, where a
compiler is found, the compilation not timed), one Gatys iteration at 512 px (loss and gradient
through the VGG-19 loss network, the LBFGS update aside), one DR training step of ResNet-18 and
ResNet-50 at 224 px (batch 8: forward, backward, SGD). Floating-point operations are counted by
``torch.utils.flop_counter`` (convolutions and matrix products, forward and backward; the
element-wise rest is left out, so the shares below are of the arithmetic that counts) and divided
by the median wall time; the shares are of the same precision's convolution peak and of its best
peak (the convolution's or the matrix product's, whichever ran faster here).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from labs.bench import add_parts_argument
from shared import backbones
from shared.cli import add_threads_argument
from shared.compiled import compile_network, is_compiled
from shared.precision import NAMES, describe_capability, median_seconds
from shared.threads import cpu_threads
from style_transfer.johnson.net import TransformerNet, channels_last, to_inference
from style_transfer.loss_network import build_loss_network

PARTS = ("peak", "johnson", "gatys", "dr")
DTYPES = (torch.float32, torch.bfloat16)
MATMUL_SIDE = 2048
CONV_CHANNELS, CONV_SIDE = 128, 256
DR_BATCH, DR_SIZE = 8, 224


@dataclass
class Row:
    workload: str
    dtype: torch.dtype
    seconds: float
    flops: float

    @property
    def gflops(self) -> float:
        return self.flops / self.seconds / 1e9


def count_flops(fn: Callable[[], object]) -> float:
    with FlopCounterMode(display=False) as counter:
        fn()
    return float(counter.get_total_flops())


def measure(workload: str, dtype: torch.dtype, fn: Callable[[], object], repeats: int) -> Row:
    return Row(workload, dtype, median_seconds(fn, repeats), count_flops(fn))


def peak_rows(repeats: int) -> list[Row]:
    rows = []
    for dtype in DTYPES:
        a = torch.randn(MATMUL_SIDE, MATMUL_SIDE, dtype=dtype)
        b = torch.randn(MATMUL_SIDE, MATMUL_SIDE, dtype=dtype)
        rows.append(measure("matmul peak", dtype, lambda a=a, b=b: a @ b, repeats))
        conv = nn.Conv2d(CONV_CHANNELS, CONV_CHANNELS, 3, padding=1).to(dtype).eval()
        conv = conv.to(memory_format=torch.channels_last)
        x = channels_last(torch.randn(1, CONV_CHANNELS, CONV_SIDE, CONV_SIDE, dtype=dtype))
        run = torch.inference_mode()(lambda conv=conv, x=x: conv(x))
        rows.append(measure("conv3x3 peak", dtype, run, repeats))
    return rows


def johnson_rows(
    repeats: int, sizes: Sequence[int] = (512, 1024), compiled: bool = True
) -> list[Row]:
    """Each size eager, then compiled (``--compile``: :mod:`shared.compiled`), the operations
    counted on the eager pass (the same arithmetic). Each size is compiled afresh: compiled for
    one size and then run at another, the network is compiled again for any size, and those
    kernels are slower (as a video compiles once, for its frames' size)."""
    torch.manual_seed(0)
    rows = []
    for dtype in DTYPES:
        net = to_inference(TransformerNet(), "cpu").to(dtype)
        for size in sizes:
            x = channels_last(torch.rand(1, 3, size, size, dtype=dtype))
            run = torch.inference_mode()(lambda net=net, x=x: net(x))
            rows.append(eager := measure(f"Johnson forward {size} px", dtype, run, repeats))
            if not compiled:
                continue
            torch._dynamo.reset()  # forget the other sizes' compilations
            fast = compile_network(net, torch.device("cpu"))
            if not is_compiled(fast):
                continue
            run_fast = torch.inference_mode()(lambda fast=fast, x=x: fast(x))
            run_fast()  # the compilation, not timed
            seconds = median_seconds(run_fast, repeats)
            rows.append(Row(f"Johnson forward {size} px, compiled", dtype, seconds, eager.flops))
    return rows


def gatys_rows(repeats: int, size: int = 512) -> list[Row]:
    torch.manual_seed(0)
    rows = []
    for dtype in DTYPES:
        net = build_loss_network("vgg19", pretrained="no").to(dtype)
        image = torch.rand(1, 3, size, size, dtype=dtype, requires_grad=True)

        def step(net: nn.Module = net, image: torch.Tensor = image) -> None:
            image.grad = None
            # losses summed in float32, as the optimiser's sums must be whatever the network runs in
            loss = sum(f.float().pow(2).mean() for f in net(image).values())
            loss.backward()

        rows.append(measure(f"Gatys iteration {size} px", dtype, step, repeats))
    return rows


def dr_rows(repeats: int) -> list[Row]:
    rows = []
    for name in ("resnet18", "resnet50"):
        for dtype in DTYPES:
            torch.manual_seed(0)
            model = backbones.create(name, num_classes=5, pretrained="no").to(dtype).train()
            model = model.to(memory_format=torch.channels_last)
            optimizer = torch.optim.SGD(model.parameters(), lr=1e-3, momentum=0.9)
            x = channels_last(torch.randn(DR_BATCH, 3, DR_SIZE, DR_SIZE, dtype=dtype))
            y = torch.randint(0, 5, (DR_BATCH,))

            def step(model=model, optimizer=optimizer, x=x, y=y) -> None:
                optimizer.zero_grad(set_to_none=True)
                nn.functional.cross_entropy(model(x).float(), y).backward()
                optimizer.step()

            rows.append(measure(f"DR train step {name} {DR_SIZE} px", dtype, step, repeats))
    return rows


def share(gflops: float, peak: float | None) -> str:
    return f"{100 * gflops / peak:.0f}%" if peak else "-"


def print_table(
    rows: list[Row], conv: dict[torch.dtype, float], best: dict[torch.dtype, float]
) -> None:
    """Each row's share of the same precision's conv peak and of its best peak (conv or matmul)."""
    print("| workload | precision | time (s) | GFLOP | GFLOP/s | of conv peak | of best peak |")
    print("| --- | --- | ---: | ---: | ---: | ---: | ---: |")
    for r in rows:
        print(
            f"| {r.workload} | {NAMES[r.dtype]} | {r.seconds:.3f} | {r.flops / 1e9:.1f} | "
            f"{r.gflops:.0f} | {share(r.gflops, conv.get(r.dtype))} | "
            f"{share(r.gflops, best.get(r.dtype))} |",
            flush=True,
        )


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m labs.bench roofline",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_parts_argument(parser, PARTS)
    parser.add_argument("--repeats", type=int, default=3, help="timed runs of each (default: 3)")
    add_threads_argument(parser)
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(argv)
    builders = {"peak": peak_rows, "johnson": johnson_rows, "gatys": gatys_rows, "dr": dr_rows}
    with cpu_threads(args.threads) as threads:
        print(f"CPU, {threads} thread(s); {describe_capability(torch.device('cpu'))}", flush=True)
        # the peaks are measured even when not asked for: every share is a share of them
        peak = peak_rows(args.repeats)
        conv = {r.dtype: r.gflops for r in peak if r.workload == "conv3x3 peak"}
        best = {d: max(r.gflops for r in peak if r.dtype == d) for d in DTYPES}
        rows = peak if "peak" in args.parts else []
        for part in PARTS[1:]:
            if part in args.parts:
                rows += builders[part](args.repeats)
        print_table(rows, conv, best)


if __name__ == "__main__":
    from labs import bench

    sys.exit(bench.main(["roofline", *sys.argv[1:]]))
