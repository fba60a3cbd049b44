"""The perceptual loss: the style's Gram matrices computed once, the content branch cut short."""

from __future__ import annotations

import pytest
import torch

from shared.errors import UserError
from style_transfer.johnson.loss import JOHNSON_LAYERS, PerceptualLoss, named_style_weights
from style_transfer.loss_network import build_loss_network


def test_content_target_stops_at_its_layer_and_the_terms_add_up(classifiers, painting, photo):
    model = classifiers["efficientnet_lite0"]
    preset = JOHNSON_LAYERS["efficientnet_lite0"]
    layers = list(dict.fromkeys([*preset.content, *(n for n, _ in preset.style)]))
    net = build_loss_network("efficientnet_lite0", model=model, layers=layers)
    loss = PerceptualLoss(
        net,
        painting,
        content_layer=preset.content[0],
        style_layers=dict(preset.style),
        content_weight=1.0,
        style_weight=2.0,
        tv_weight=0.5,
    )
    assert sum(loss.style_layers.values()) == 1.0  # relative weights, summing to 1
    assert set(loss.grams) == {n for n, _ in preset.style}
    ran = []
    hooks = [
        m.register_forward_hook(lambda m, i, o, n=n: ran.append(n))
        for n, m in net.body.named_children()
    ]
    try:
        loss.content_target(photo[None])
    finally:
        for h in hooks:
            h.remove()
    assert ran[-1] == "block2" and "block7" not in ran  # stopped at the content layer
    photos = photo[None].repeat(2, 1, 1, 1)
    total, parts = loss(photos, photos.flip(-1))
    assert torch.isfinite(total)
    assert total.item() == pytest.approx(sum(v.item() for v in parts.values()))
    _, same = loss(photos, photos)
    assert same["content"].item() == 0.0  # the photo itself: no content loss


def test_style_layer_weights_are_named_in_the_presets_order() -> None:
    assert named_style_weights("efficientnet_lite0", None) is None
    named = named_style_weights("efficientnet_lite0", [1, 1, 2, 4])
    assert named == {"block0": 1.0, "block2": 1.0, "block4": 2.0, "block7": 4.0}
    assert list(named) == [n for n, _ in JOHNSON_LAYERS["efficientnet_lite0"].style]
    with pytest.raises(UserError, match=r"3 given, but the efficientnet_lite0 loss network has 4"):
        named_style_weights("efficientnet_lite0", [1, 2, 3])
