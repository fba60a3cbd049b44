"""Optimisation-based style transfer (Gatys, Ecker & Bethge 2016): the image is what is optimised.

    from style_transfer.loss_network import build_loss_network
    from style_transfer.gatys.config import GatysConfig
    from style_transfer.gatys.optimise import optimise_image
    net = build_loss_network("efficientnet_lite0", pretrained="yes")
    result = optimise_image(photo, [painting], net, GatysConfig(scales=(256, 512), iters=150))
    result.image, result.history.total

The image itself is optimised so that its features match the photo's (content) and its Gram
matrices match the painting's (style). Targets are computed once per scale.

Bounds: the image is kept in [0, 1] by clamping *between* optimiser steps, never inside the LBFGS
closure: a clamp inside the closure moves the iterate behind the optimiser's back and corrupts
its line search and curvature pairs. After a clamp, LBFGS's stored step is corrected to the step
actually taken, so its next curvature pair (s, y) still describes two real iterates.

LBFGS runs one iteration per ``step`` call (one loss evaluation each, no line search, as in the
paper's code), and restarts from the best image so far with an empty memory when a step lands
at more than ``RESTART_FACTOR`` times the best loss.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import torch
from tqdm.auto import tqdm

from style_transfer import color
from style_transfer.gatys.config import DEFAULT_LR, GatysConfig
from style_transfer.gatys.precision import FP16_LOSS_SCALE
from style_transfer.images import fit_size, resize
from style_transfer.loss_network import LossNetwork
from style_transfer.losses import (
    content_loss,
    gram_matrix,
    magnitude,
    style_loss,
    total_variation_loss,
)

# An LBFGS step whose loss exceeds the best so far by this factor triggers a restart.
RESTART_FACTOR = 2.0


class NonFiniteLoss(RuntimeError):
    """The loss became inf/NaN; ``last_good`` is the last image whose loss was finite."""

    def __init__(self, iteration: int, last_good: torch.Tensor, last_loss: float) -> None:
        last = "no finite loss yet" if math.isnan(last_loss) else f"last finite {last_loss:.4g}"
        super().__init__(
            f"the loss became non-finite at iteration {iteration} ({last}); "
            "lower the style/content weights or the learning rate"
        )
        self.iteration, self.last_good, self.last_loss = iteration, last_good, last_loss


class SizeTooSmall(ValueError):
    """The image is smaller than the loss network's pooling can take."""


@dataclass
class History:
    """Per-iteration losses (weighted, as optimised) and wall-clock seconds since the start."""

    total: list[float] = field(default_factory=list)
    content: list[float] = field(default_factory=list)
    style: list[float] = field(default_factory=list)
    tv: list[float] = field(default_factory=list)
    seconds: list[float] = field(default_factory=list)
    scale_starts: list[int] = field(default_factory=list)
    restarts: int = 0

    def as_series(self) -> dict[str, list[float]]:
        return {"total": self.total, "content": self.content, "style": self.style}


@dataclass
class GatysResult:
    image: torch.Tensor  # (3, H, W) in [0, 1], on the CPU
    history: History
    seconds: float


@dataclass
class Targets:
    """What the image is pulled towards at one scale; computed once, reused every step."""

    content: dict[str, torch.Tensor]
    grams: dict[str, torch.Tensor]
    content_scales: dict[str, torch.Tensor | float]
    style_scales: dict[str, torch.Tensor | float]


@torch.no_grad()
def compute_targets(
    net: LossNetwork,
    content: torch.Tensor,
    styles: Sequence[torch.Tensor],
    blend: Sequence[float],
    config: GatysConfig,
) -> Targets:
    """Content features and the blend-weighted Gram matrices of the style images."""
    content_layers, style_weights = config.layers_for(net.backbone)
    feats = net(content.unsqueeze(0))
    targets = {name: feats[name].detach() for name in content_layers}
    grams: dict[str, torch.Tensor] = {}
    for style, w in zip(styles, blend, strict=True):
        for name, f in net(style.unsqueeze(0)).items():
            if name in style_weights:
                grams[name] = grams.get(name, 0) + w * gram_matrix(f)
    if config.normalize:
        cs = {n: magnitude(t) for n, t in targets.items()}
        ss = {n: magnitude(g) for n, g in grams.items()}
    else:
        cs, ss = dict.fromkeys(targets, 1.0), dict.fromkeys(grams, 1.0)
    return Targets(targets, grams, cs, ss)


def loss_terms(
    net: LossNetwork, image: torch.Tensor, targets: Targets, config: GatysConfig
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Weighted content, style and total-variation losses of ``image`` (1, 3, H, W)."""
    _, style_weights = config.layers_for(net.backbone)
    feats = net(image)
    c = sum(
        content_loss(feats[n], t, config.loss, targets.content_scales[n])
        for n, t in targets.content.items()
    ) / len(targets.content)
    s = style_loss(feats, targets.grams, style_weights, config.loss, targets.style_scales)
    tv = total_variation_loss(image) if config.tv_weight else image.new_zeros(())
    return config.content_weight * c, config.style_weight * s, config.tv_weight * tv


def make_optimizer(image: torch.Tensor, config: GatysConfig) -> torch.optim.Optimizer:
    lr = config.lr if config.lr is not None else DEFAULT_LR[config.optimizer]
    if config.optimizer == "lbfgs":
        # One iteration per step() call: one loss evaluation each, a progress tick each, and a
        # clamp between iterations rather than inside the closure.
        # tolerance_grad=0: the paper's raw weights on a random network give gradients below
        # LBFGS's default 1e-7, and it would silently stop moving.
        return torch.optim.LBFGS(
            [image], lr=lr, max_iter=1, history_size=50, tolerance_grad=0.0, tolerance_change=0.0
        )
    if config.optimizer == "adam":
        return torch.optim.Adam([image], lr=lr)
    return torch.optim.SGD([image], lr=lr, momentum=0.9)


@torch.no_grad()
def clamp_between_steps(image: torch.Tensor, optimizer: torch.optim.Optimizer) -> None:
    """Project the image back into [0, 1]; tell LBFGS the step it actually took."""
    before = image.detach().clone()
    image.clamp_(0, 1)
    if isinstance(optimizer, torch.optim.LBFGS):
        state = optimizer.state[image]
        if "d" in state and "t" in state and state["t"]:
            state["d"] = state["d"] + (image - before).flatten() / state["t"]


@torch.no_grad()
def restart_lbfgs(
    image: torch.Tensor, optimizer: torch.optim.LBFGS, best_image: torch.Tensor
) -> None:
    """Back to the best image so far, with an empty curvature memory.

    Without a line search LBFGS takes full quasi-Newton steps; on a rough landscape (random
    weights, tiny feature maps) one can land where the loss is many times higher and the
    curvature pairs then mislead every later step. Starting afresh from the best point costs
    the one wasted evaluation.
    """
    image.copy_(best_image)
    optimizer.state.clear()


def initial_image(content: torch.Tensor, style: torch.Tensor, config: GatysConfig) -> torch.Tensor:
    if config.init == "content":
        return content.clone()
    if config.init == "style":
        return resize(style, tuple(content.shape[-2:]))
    gen = torch.Generator().manual_seed(config.seed)
    return torch.rand(content.shape, generator=gen).to(content)


def check_size(net: LossNetwork, size: tuple[int, int]) -> None:
    if min(size) < net.min_side():
        raise SizeTooSmall(
            f"a {size[1]}x{size[0]} image is too small for {net.backbone} up to "
            f"{net.layer_names[-1]}: its shorter side must be at least {net.min_side()} px"
        )


class Objective:
    """The closure an optimiser calls: loss and gradient at the current image.

    Records every evaluation in ``history`` and keeps the last image whose loss was finite;
    a non-finite loss raises :class:`NonFiniteLoss` before any gradient is taken.
    """

    def __init__(
        self,
        net: LossNetwork,
        image: torch.Tensor,
        targets: Targets,
        config: GatysConfig,
        history: History,
    ) -> None:
        self.net, self.image, self.targets, self.config = net, image, targets, config
        self.history = history
        self.last_good, self.last_loss = image.detach().clone(), math.nan

    def __call__(self) -> torch.Tensor:
        self.image.grad = None
        c, s, tv = loss_terms(self.net, self.image, self.targets, self.config)
        total = c + s + tv
        if not torch.isfinite(total):
            iteration = len(self.history.total) + 1
            raise NonFiniteLoss(iteration, self.last_good.cpu()[0], self.last_loss)
        if self.net.dtype == torch.float16:  # scaled, or its small gradients flush to zero
            (total * FP16_LOSS_SCALE).backward()
            self.image.grad.div_(FP16_LOSS_SCALE)
        else:
            total.backward()
        self.last_good, self.last_loss = self.image.detach().clone(), total.item()
        h = self.history
        for series, value in zip(
            (h.total, h.content, h.style, h.tv), (total, c, s, tv), strict=True
        ):
            series.append(float(value.detach()))
        return total


def optimise_scale(
    net: LossNetwork,
    image: torch.Tensor,
    targets: Targets,
    config: GatysConfig,
    history: History,
    iters: int,
    *,
    bar: tqdm | None = None,
    start: float | None = None,
    stop_below: float | None = None,
) -> torch.Tensor:
    """Run ``iters`` optimiser steps on ``image`` (1, 3, H, W), or until the total loss drops
    below ``stop_below``; returns the result."""
    # Contiguous: LBFGS takes flat views of the image and its gradient, and an image decoded
    # as HWC and permuted (not resized, so never copied) is not.
    image = image.detach().clone(memory_format=torch.contiguous_format).requires_grad_(True)
    optimizer = make_optimizer(image, config)
    objective = Objective(net, image, targets, config, history)
    start = time.perf_counter() if start is None else start
    best, best_image = math.inf, objective.last_good
    for _ in range(iters):
        optimizer.step(objective)  # evaluates the current image, then moves it
        loss = history.total[-1]
        if isinstance(optimizer, torch.optim.LBFGS) and loss > RESTART_FACTOR * best:
            restart_lbfgs(image, optimizer, best_image)
            history.restarts += 1
        else:
            if loss < best:
                best, best_image = loss, objective.last_good
            clamp_between_steps(image, optimizer)
        history.seconds.append(time.perf_counter() - start)
        if bar is not None:
            bar.update(1)
            bar.set_postfix(loss=f"{loss:.4g}", refresh=False)
        if stop_below is not None and loss <= stop_below:
            break
    return image.detach()


def optimise_image(
    content: torch.Tensor,
    styles: Sequence[torch.Tensor],
    net: LossNetwork,
    config: GatysConfig,
    *,
    blend: Sequence[float] | None = None,
    progress: bool | None = True,
    on_scale: Callable[[int, torch.Tensor], None] | None = None,
    stop_below: float | None = None,
) -> GatysResult:
    """Stylise ``content`` (3, H, W) with ``styles`` (each (3, h, w)), blended by ``blend``.

    The result keeps the photo's aspect ratio; its longer side is the last of ``config.scales``.
    Each scale starts from the previous result, upsampled. ``stop_below`` ends the last scale
    early once the total loss reaches it (for time-to-loss measurements).
    """
    device = net.mean.device
    blend = normalise_blend(blend, len(styles))
    sizes = [fit_size(*content.shape[-2:], s) for s in config.scales]
    check_size(net, min(sizes, key=min))
    content, styles = content.to(device), [s.to(device) for s in styles]
    if config.preserve_color:
        work_content, work_styles = color.luminance_images(content, list(styles))
    else:
        work_content, work_styles = content, list(styles)
    history, start = History(), time.perf_counter()
    image = None
    iters = config.iters_per_scale
    # progress=None: a bar only when stderr is a terminal (no bar noise in logs and pipes).
    disable = None if progress is None else not progress
    with tqdm(total=sum(iters), disable=disable, desc="gatys", unit="it") as bar:
        for k, size in enumerate(sizes):
            c, ss, targets = targets_at(net, work_content, work_styles, size, blend, config)
            if image is None:
                image = initial_image(c, ss[0], config).unsqueeze(0)
            else:
                image = resize(image, size)
            history.scale_starts.append(len(history.total))
            bar.set_description(f"gatys {size[1]}x{size[0]}")
            last = k == len(sizes) - 1
            image = optimise_scale(
                net,
                image,
                targets,
                config,
                history,
                iters[k],
                bar=bar,
                start=start,
                stop_below=stop_below if last else None,
            )
            if on_scale is not None:
                on_scale(k, image[0])
    result = image[0]
    if config.preserve_color:
        result = color.recombine(result, resize(content, tuple(result.shape[-2:])))
    return GatysResult(result.cpu(), history, time.perf_counter() - start)


def targets_at(
    net: LossNetwork,
    content: torch.Tensor,
    styles: Sequence[torch.Tensor],
    size: tuple[int, int],
    blend: Sequence[float],
    config: GatysConfig,
) -> tuple[torch.Tensor, list[torch.Tensor], Targets]:
    """The photo at ``size``, the paintings at ``config.style_scale`` of it, and their targets."""
    c = resize(content, size)
    side = max(1, round(max(size) * config.style_scale))
    ss = [resize(s, fit_size(*s.shape[-2:], side)) for s in styles]
    return c, ss, compute_targets(net, c, ss, blend, config)


def normalise_blend(blend: Sequence[float] | None, n: int) -> list[float]:
    """Blend weights for ``n`` style images, summing to 1 (equal when ``blend`` is None)."""
    if not n:
        raise ValueError("at least one style image is needed")
    blend = [1.0] * n if blend is None else list(blend)
    if len(blend) != n or any(not math.isfinite(w) or w < 0 for w in blend) or sum(blend) <= 0:
        raise ValueError(f"need {n} non-negative style weights with a positive sum, got {blend}")
    return [w / sum(blend) for w in blend]
