"""Gatys speed, side by side in one process: ours vs the PyTorch tutorial's approach.

    make bench ARGS=gatys                # python -m labs.bench gatys

1. Seconds per LBFGS iteration (one loss + gradient evaluation) at 256 and 512 px: the same
   randomly initialised VGG19 (ImageNet weights are not needed to time it), the same layers
   (the paper's relu1_1 ... relu5_1 for style, relu4_2 for content), max pooling and raw
   weights as in the tutorial, the same photo and painting. Rows: ours; ours with the weights
   left requiring grad (the tutorial's trap, isolated); the tutorial's code
   (``labs/reference_gatys_tutorial.py``). Implementations alternate, medians are reported, so
   a busy machine slows all of them alike. The first losses are printed too: equal losses show
   both compute the same objective.
2. Multi-scale vs single-scale at 1024 px, EfficientNet-Lite0 (VGG19 at 1024 px takes several
   seconds per step on a CPU): time for 256 -> 512 -> 1024 px to reach the loss that 1024 px
   alone reaches after its iterations.
"""

from __future__ import annotations

import contextlib
import copy
import itertools
import statistics
import time

import torch

from labs import reference_gatys_tutorial as reference
from shared import backbones
from shared.threads import auto_threads
from style_transfer.features import build_loss_network, vgg_layer_names
from style_transfer.gatys import GatysConfig, stylize
from style_transfer.imageio import fit_size, read_image, resize
from style_transfer.styles import get_style

CONTENT_LAYER = "relu4_2"
STYLE_LAYERS = ("relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1")
ITERS = {256: 8, 512: 4}
ROUNDS = 2
TUTORIAL_STYLE_WEIGHT = 1e6
MULTI_SCALES, MULTI_ITERS, SINGLE_ITERS = (256, 512, 1024), (60, 30), 20


class _Budget(list):
    """The tutorial's loop runs whole 20-iteration LBFGS steps; stop it after ``n`` evaluations."""

    class Done(Exception):
        pass

    def __init__(self, n: int) -> None:
        super().__init__()
        self.n = n

    def append(self, item) -> None:
        super().append(item)
        if len(self) >= self.n:
            raise self.Done


def tutorial_name(features: torch.nn.Sequential, ours: str) -> str:
    """``relu4_2`` -> ``relu_10``: the tutorial numbers layers by convolution."""
    convs = 0
    for name, module in zip(vgg_layer_names(features), features, strict=True):
        convs += isinstance(module, torch.nn.Conv2d)
        if name == ours:
            return f"{name[:4]}_{convs}"
    raise KeyError(ours)


def images(size: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The photo at ``size`` (longer side) and the painting stretched to the same shape, since
    the tutorial's model runs the style image through its content-loss modules too."""
    photo, paint = read_image("chelsea"), read_image(get_style("starry").image_path)
    content = resize(photo, fit_size(*photo.shape[-2:], size))
    return content, resize(paint, tuple(content.shape[-2:]))


def per_iteration(stamps: list[float]) -> list[float]:
    # The first evaluation carries one-off costs (allocations, LBFGS state): left out.
    return [b - a for a, b in itertools.pairwise(stamps)]


def time_ours(vgg, content, style, iters: int, weights_require_grad: bool) -> tuple[list, float]:
    net = build_loss_network(
        "vgg19", model=vgg, layers=[CONTENT_LAYER, *STYLE_LAYERS], pooling="max"
    )
    net.requires_grad_(weights_require_grad)
    config = GatysConfig(
        content_layers=[CONTENT_LAYER],
        style_layers=dict.fromkeys(STYLE_LAYERS, 1.0),
        # Ours averages the style layers, the tutorial sums them: same objective this way.
        style_weight=TUTORIAL_STYLE_WEIGHT * len(STYLE_LAYERS),
        tv_weight=0.0,
        normalize=False,
        scales=(max(content.shape[-2:]),),
        iters=iters,
    )
    result = stylize(content, [style], net, config, progress=False)
    return per_iteration(result.history.seconds), result.history.total[0]


def time_reference(vgg, content, style, iters: int) -> tuple[list, float]:
    cnn = copy.deepcopy(vgg.features).eval()
    log = _Budget(iters)
    with contextlib.suppress(_Budget.Done):
        reference.run_style_transfer(
            cnn,
            reference.IMAGENET_MEAN,
            reference.IMAGENET_STD,
            content[None],
            style[None],
            content[None].clone(),
            num_steps=iters,
            style_weight=TUTORIAL_STYLE_WEIGHT,
            content_layers=[tutorial_name(cnn, CONTENT_LAYER)],
            style_layers=[tutorial_name(cnn, n) for n in STYLE_LAYERS],
            log=log,
        )
    return per_iteration([t for t, _ in log]), log[0][1]


def compare_per_iteration() -> None:
    torch.manual_seed(0)
    vgg = backbones.create("vgg19", pretrained="no")
    print(
        "seconds per LBFGS iteration, VGG19 (random weights), layers relu1_1..relu5_1 + "
        f"relu4_2, median of {ROUNDS} alternating rounds; {torch.get_num_threads()} threads"
    )
    print(
        f"{'size':>9} | {'ours':>7} | {'ours, weights need grad':>23} | {'tutorial':>8} | "
        f"ours faster by | first loss ours / tutorial"
    )
    for size, iters in ITERS.items():
        content, style = images(size)
        times = {"ours": [], "trap": [], "tutorial": []}
        losses = {}
        for _ in range(ROUNDS):
            t, losses["ours"] = time_ours(vgg, content, style, iters, False)
            times["ours"] += t
            times["trap"] += time_ours(vgg, content, style, iters, True)[0]
            t, losses["tutorial"] = time_reference(vgg, content, style, iters)
            times["tutorial"] += t
        med = {k: statistics.median(v) for k, v in times.items()}
        label = f"{content.shape[-1]}x{content.shape[-2]}"
        print(
            f"{label:>9} | {med['ours']:7.3f} | {med['trap']:23.3f} | {med['tutorial']:8.3f} | "
            f"{med['tutorial'] / med['ours']:13.2f}x | "
            f"{losses['ours']:.6g} / {losses['tutorial']:.6g}",
            flush=True,
        )


def compare_multiscale() -> None:
    content, style = read_image("chelsea"), read_image(get_style("starry").image_path)
    net = build_loss_network("efficientnet_lite0", pretrained="auto")
    single = stylize(
        content, [style], net, GatysConfig(scales=(1024,), iters=SINGLE_ITERS), progress=False
    )
    target = single.history.total[-1]
    config = GatysConfig(scales=MULTI_SCALES, iters=(*MULTI_ITERS, SINGLE_ITERS))
    start = time.perf_counter()
    multi = stylize(content, [style], net, config, progress=False, stop_below=target)
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


def main() -> None:
    threads = torch.get_num_threads()
    # Both sides get the same thread count; on a machine busy with other work one thread is
    # both faster and steadier than two (see shared.device.auto_threads).
    torch.set_num_threads(auto_threads())
    try:
        compare_per_iteration()
        compare_multiscale()
    finally:
        torch.set_num_threads(threads)


if __name__ == "__main__":
    main()
