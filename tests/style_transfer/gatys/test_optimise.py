"""Gatys optimisation: convergence, every option combination, sizes, colour, failure modes."""

from __future__ import annotations

import itertools
import math

import pytest
import torch

from style_transfer.color import rgb_to_ycbcr
from style_transfer.gatys import optimise
from style_transfer.gatys.config import INIT_CHOICES, OPTIMIZER_CHOICES, GatysConfig
from style_transfer.gatys.optimise import (
    NonFiniteLoss,
    SizeTooSmall,
    clamp_between_steps,
    compute_targets,
    loss_terms,
    optimise_image,
)
from style_transfer.images import read_image, resize
from style_transfer.loss_network import PRESETS, build_loss_network
from style_transfer.losses import LOSS_CHOICES
from style_transfer.styles import get_style

_NETS: dict[str, torch.nn.Module] = {}


@pytest.fixture
def nets(classifiers):
    """Backbone name -> loss network with its preset layers, built once."""

    class Nets:
        def __getitem__(self, name: str):
            if name not in _NETS:
                _NETS[name] = build_loss_network(name, model=classifiers[name])
            return _NETS[name]

    return Nets()


@pytest.fixture(scope="module")
def cat_and_starry() -> tuple[torch.Tensor, torch.Tensor]:
    return read_image("chelsea"), read_image(get_style("starry").image_path)


def test_lbfgs_lowers_the_loss_tenfold_in_30_iterations(nets, cat_and_starry) -> None:
    """The paper's setting: white-noise start, raw (unnormalised) weights, 64 px."""
    config = GatysConfig(
        scales=(64,), iters=30, init="noise", normalize=False, style_weight=1e5, tv_weight=0
    )
    result = optimise_image(
        *cat_and_starry[:1], cat_and_starry[1:], nets["efficientnet_lite0"], config, progress=False
    )
    total = result.history.total
    assert len(total) == 30
    assert total[0] / total[-1] >= 10, f"loss {total[0]:.3g} -> {total[-1]:.3g}"


def test_default_settings_converge_from_the_photo(nets, cat_and_starry) -> None:
    """Per-layer normalisation, photo start: the floor is the content/style balance, not 0."""
    config = GatysConfig(scales=(64,), iters=30)
    result = optimise_image(
        cat_and_starry[0], [cat_and_starry[1]], nets["efficientnet_lite0"], config, progress=False
    )
    total = result.history.total
    assert total[0] / total[-1] >= 4, f"loss {total[0]:.3g} -> {total[-1]:.3g}"
    assert total[-1] <= min(total) * 1.05  # ends at (or next to) its best


def test_restart_rescues_lbfgs_on_a_rough_random_network(
    classifiers, cat_and_starry, monkeypatch
) -> None:
    """Random VGG19 with average pooling: full LBFGS steps land far uphill; restarts undo it."""
    net = build_loss_network("vgg19", model=classifiers["vgg19"], pooling="avg")
    config = GatysConfig(scales=(64,), iters=30)
    cat, starry = cat_and_starry

    def final_loss() -> tuple[float, int]:
        result = optimise_image(cat, [starry], net, config, progress=False)
        c = resize(cat, tuple(result.image.shape[-2:]))
        targets = compute_targets(net, c, [resize(starry, (64, 64))], [1.0], config)
        with torch.no_grad():
            loss = sum(loss_terms(net, result.image[None], targets, config)).item()
        return loss, result.history.restarts

    rescued, restarts = final_loss()
    monkeypatch.setattr(optimise, "RESTART_FACTOR", math.inf)
    plain, no_restarts = final_loss()
    assert restarts > 0 and no_restarts == 0
    assert rescued < plain / 2, (rescued, plain)


COMBOS = list(itertools.product(list(PRESETS), OPTIMIZER_CHOICES, LOSS_CHOICES, INIT_CHOICES))


@pytest.mark.parametrize(("backbone", "optimizer", "loss", "init"), COMBOS)
def test_every_combination_runs(nets, photo, painting, backbone, optimizer, loss, init) -> None:
    # 50x80: above every network's minimum (AlexNet's is 47 px).
    config = GatysConfig(scales=(80,), iters=2, optimizer=optimizer, loss=loss, init=init)
    result = optimise_image(photo, [painting], nets[backbone], config, progress=False)
    h = result.history
    assert result.image.shape == (3, 50, 80)
    assert result.image.min() >= 0 and result.image.max() <= 1
    assert len(h.total) == len(h.content) == len(h.style) == 2
    assert all(torch.isfinite(torch.tensor(h.total)))
    assert h.total[0] == pytest.approx(h.content[0] + h.style[0] + h.tv[0], rel=1e-5)
    start = resize(photo, (50, 80)) if init == "content" else None
    if start is not None:
        assert not torch.allclose(result.image, start), "the optimiser did not move the image"


def test_output_keeps_the_photo_size_and_aspect(nets, photo, painting) -> None:
    net = nets["efficientnet_lite0"]
    same = optimise_image(
        photo, [painting], net, GatysConfig(scales=(64,), iters=2), progress=False
    )
    assert same.image.shape == photo.shape == (3, 40, 64)
    half = optimise_image(
        photo, [painting], net, GatysConfig(scales=(32,), iters=2), progress=False
    )
    assert half.image.shape == (3, 20, 32)


@pytest.mark.parametrize("optimizer", OPTIMIZER_CHOICES)
def test_photo_already_at_size_in_hwc_layout(nets, painting, optimizer: str) -> None:
    """A decoded HWC photo permuted to CHW and not resized (already at the working size) is
    not contiguous; LBFGS's flat views of the image must still work."""
    photo = torch.rand(48, 48, 3).permute(2, 0, 1)
    assert not photo.is_contiguous()
    config = GatysConfig(scales=(48,), iters=2, optimizer=optimizer)
    result = optimise_image(photo, [painting], nets["efficientnet_lite0"], config, progress=False)
    assert result.image.shape == (3, 48, 48)


def test_multiscale_continues_from_the_upsampled_coarse_result(nets, cat_and_starry) -> None:
    net, (cat, starry) = nets["efficientnet_lite0"], cat_and_starry
    config = GatysConfig(scales=(32, 64), iters=(15, 5))
    multi = optimise_image(cat, [starry], net, config, progress=False)
    assert multi.image.shape == (3, 43, 64)  # chelsea is 451x300
    assert multi.history.scale_starts == [0, 15]
    single = optimise_image(cat, [starry], net, GatysConfig(scales=(64,), iters=5), progress=False)
    # Warm-started at 64 px from the 32 px result: below where the photo starts, and 5 steps
    # at 64 px end lower than the same 5 steps from the photo.
    assert multi.history.total[15] < single.history.total[0]
    assert multi.history.total[-1] < single.history.total[-1]


def test_colour_preservation_keeps_the_photo_chrominance(nets, photo, painting) -> None:
    net = nets["efficientnet_lite0"]

    def chroma_change(preserve: bool) -> float:
        config = GatysConfig(scales=(64,), iters=15, preserve_color=preserve)
        out = optimise_image(photo, [painting], net, config, progress=False).image
        cbcr = rgb_to_ycbcr(out)[1:]
        return (cbcr - rgb_to_ycbcr(photo)[1:]).abs().mean().item()

    kept, free = chroma_change(True), chroma_change(False)
    assert kept < 0.01
    assert free > 5 * kept  # without it the blue/yellow stripes do recolour the photo


def test_targets_are_computed_once(nets, photo, painting) -> None:
    net = nets["efficientnet_lite0"]
    calls = []
    handle = net.register_forward_hook(lambda *_: calls.append(1))
    try:
        optimise_image(photo, [painting], net, GatysConfig(scales=(64,), iters=5), progress=False)
    finally:
        handle.remove()
    assert len(calls) == 2 + 5  # content and style once, then one evaluation per LBFGS step


def test_blend_weights_mix_style_grams(nets, photo, painting) -> None:
    net = nets["efficientnet_lite0"]
    other = painting.flip(-1).roll(7, dims=-2) * 0.5
    config = GatysConfig()
    only_a = compute_targets(net, photo, [painting], [1.0], config)
    mixed = compute_targets(net, photo, [painting, other], [1.0, 0.0], config)
    half = compute_targets(net, photo, [painting, other], [0.5, 0.5], config)
    only_b = compute_targets(net, photo, [other], [1.0], config)
    for name, g in only_a.grams.items():
        torch.testing.assert_close(mixed.grams[name], g)
        torch.testing.assert_close(half.grams[name], 0.5 * (g + only_b.grams[name]))


def test_lbfgs_is_told_the_step_it_actually_took() -> None:
    x = torch.full((4,), 0.5, requires_grad=True)
    opt = torch.optim.LBFGS([x], lr=1, max_iter=1)

    def closure():
        opt.zero_grad()
        loss = ((x - torch.tensor([2.0, -1.0, 0.7, 0.5])) ** 2).sum()
        loss.backward()
        return loss

    opt.step(closure)  # the first step is a short gradient step
    clamp_between_steps(x, opt)
    start = x.detach().clone()
    opt.step(closure)  # a full quasi-Newton step, to the minimum at (2, -1) outside the box
    assert x.max() > 1 and x.min() < 0
    clamp_between_steps(x, opt)
    state = opt.state[x]
    assert x.min() >= 0 and x.max() <= 1
    torch.testing.assert_close(state["d"] * state["t"], x.detach() - start)


def test_non_finite_loss_stops_with_the_last_good_image(nets, photo, painting) -> None:
    net = nets["efficientnet_lite0"]
    calls = []

    def poison(_module, _inputs, outputs):
        calls.append(1)
        if len(calls) == 2 + 4:  # the 4th evaluation, after targets
            return {k: v * float("nan") for k, v in outputs.items()}
        return outputs

    handle = net.register_forward_hook(poison)
    try:
        with pytest.raises(NonFiniteLoss) as info:
            optimise_image(
                photo, [painting], net, GatysConfig(scales=(64,), iters=10), progress=False
            )
    finally:
        handle.remove()
    err = info.value
    assert err.iteration == 4
    assert err.last_good.shape == (3, 40, 64) and torch.isfinite(err.last_good).all()
    assert "non-finite at iteration 4" in str(err)


def test_overflowing_weight_is_a_non_finite_loss(nets, photo, painting) -> None:
    config = GatysConfig(scales=(64,), iters=3, style_weight=1e39)  # inf in float32
    with pytest.raises(NonFiniteLoss, match="iteration 1"):
        optimise_image(photo, [painting], nets["efficientnet_lite0"], config, progress=False)


def test_too_small_for_the_pooling_is_refused(nets, photo, painting) -> None:
    with pytest.raises(SizeTooSmall, match="at least 32 px"):
        optimise_image(photo, [painting], nets["vgg19"], GatysConfig(scales=(40,)), progress=False)


def test_noise_init_is_seeded(nets, photo, painting) -> None:
    net = nets["efficientnet_lite0"]

    def first_loss(seed: int) -> float:
        config = GatysConfig(scales=(48,), iters=1, init="noise", seed=seed)
        return optimise_image(photo, [painting], net, config, progress=False).history.total[0]

    assert first_loss(1) == first_loss(1) != first_loss(2)
