"""The baseline Gatys algorithm: the paper's objective (equal to ours), and it optimises.

.venv/bin/python -m pytest tests/labs/baselines/test_gatys_algorithm.py -q
"""

from __future__ import annotations

import pytest
import torch

from labs.baselines.gatys_algorithm import (
    PAPER_CONTENT_LAYER,
    PAPER_STYLE_LAYERS,
    GatysSettings,
    VGGResponses,
    gatys_transfer,
)
from style_transfer.gatys.config import GatysConfig
from style_transfer.gatys.optimise import optimise_image
from style_transfer.loss_network import build_loss_network

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture
def photos() -> tuple[torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(1)
    return torch.rand(3, 32, 40, generator=gen), torch.rand(3, 24, 30, generator=gen)


def test_lowers_its_loss_and_keeps_the_image_in_range(tiny_vgg19, photos) -> None:
    content, style = photos
    image, trace = gatys_transfer(tiny_vgg19.features, content, style, GatysSettings(iterations=12))
    assert image.shape == content.shape
    assert image.min().item() >= 0.0 and image.max().item() <= 1.0
    assert len(trace.losses) == len(trace.stamps) == 12
    assert trace.stamps == sorted(trace.stamps)
    assert trace.losses[-1] < 0.1 * trace.losses[0]
    assert not torch.equal(image, content)


@pytest.mark.parametrize(("iterations", "per_step"), [(1, 20), (10, 4), (7, 20)])
def test_runs_exactly_the_iterations_asked(tiny_vgg19, photos, iterations, per_step) -> None:
    settings = GatysSettings(iterations=iterations, step_iterations=per_step)
    _, trace = gatys_transfer(tiny_vgg19.features, *photos, settings)
    assert len(trace.losses) == iterations


def test_first_loss_is_ours_for_the_same_objective(tiny_vgg19, photos) -> None:
    """Ours averages its style layers where the paper sums them: 5x the weight is the same.
    Ours scales the painting to the photo's size, so here it has that size already."""
    content = photos[0]
    style = torch.rand(3, 32, 40, generator=torch.Generator().manual_seed(2))
    _, trace = gatys_transfer(tiny_vgg19.features, content, style, GatysSettings(iterations=3))
    layers = [PAPER_CONTENT_LAYER, *PAPER_STYLE_LAYERS]
    net = build_loss_network("vgg19", model=tiny_vgg19, layers=layers, pooling="max")
    config = GatysConfig(
        content_layers=[PAPER_CONTENT_LAYER],
        style_layers=dict.fromkeys(PAPER_STYLE_LAYERS, 1.0),
        style_weight=1e6 * len(PAPER_STYLE_LAYERS),
        tv_weight=0.0,
        normalize=False,
        scales=(40,),
        iters=3,
    )
    ours = optimise_image(content, [style], net, config, progress=False).history.total
    assert trace.losses[0] == pytest.approx(ours[0], rel=1e-5)
    assert trace.losses[0] > 0


def test_no_style_weight_leaves_the_photo_as_it_is(tiny_vgg19, photos) -> None:
    """At the photo the content loss is 0 with a zero gradient: nothing to move."""
    content, style = photos
    settings = GatysSettings(style_weight=0.0, iterations=3)
    image, trace = gatys_transfer(tiny_vgg19.features, content, style, settings)
    assert trace.losses[0] == 0.0
    assert torch.equal(image, content)


def test_the_given_network_is_left_as_it_was(tiny_vgg19, photos) -> None:
    before = {k: v.clone() for k, v in tiny_vgg19.features.state_dict().items()}
    gatys_transfer(tiny_vgg19.features, *photos, GatysSettings(iterations=2))
    assert all(p.requires_grad for p in tiny_vgg19.features.parameters())
    assert all(torch.equal(v, before[k]) for k, v in tiny_vgg19.features.state_dict().items())
    assert all(m.inplace for m in tiny_vgg19.features if isinstance(m, torch.nn.ReLU))


def test_responses_stop_at_the_deepest_layer_and_are_frozen(tiny_vgg19) -> None:
    net = VGGResponses(tiny_vgg19.features, ["relu1_1", "relu2_1"])
    assert net.names[-1] == "relu2_1" and len(net.layers) == len(net.names) == 7
    assert not any(p.requires_grad for p in net.parameters())
    out = net(torch.rand(1, 3, 16, 16))
    assert set(out) == {"relu1_1", "relu2_1"}
    assert out["relu2_1"].shape == (1, 8, 8, 8) and out["relu1_1"].min().item() >= 0.0
