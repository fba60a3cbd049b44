"""The arbitrary-style network: sizes, tiles, decoder files, the training loss."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from shared.errors import UserError
from style_transfer.arbitrary.adain import adain, channel_statistics
from style_transfer.arbitrary.decoder import Decoder, DecoderConfig
from style_transfer.arbitrary.encoder import ENCODERS, build_encoder
from style_transfer.arbitrary.loss import AdaINLoss
from style_transfer.arbitrary.model_file import load_arbitrary, save_decoder
from style_transfer.arbitrary.net import ArbitraryNet
from style_transfer.johnson.infer import transform_image
from style_transfer.johnson.model_file import save_model
from style_transfer.johnson.net import TransformerNet

BACKBONE = "efficientnet_lite0"
SMALL = DecoderConfig(40, (16, 8, 8, 8))


@pytest.fixture(scope="module")
def encoder():
    return build_encoder(BACKBONE)


def small_net(encoder) -> ArbitraryNet:
    torch.manual_seed(0)
    return ArbitraryNet(encoder, Decoder(SMALL), BACKBONE).eval()


def test_any_size_comes_out_at_its_own_size(encoder, painting) -> None:
    net = small_net(encoder)
    net.set_styles([painting])
    for h, w in ((37, 53), (64, 64), (41, 90)):
        with torch.no_grad():
            y = net(torch.rand(1, 3, h, w))
        assert y.shape == (1, 3, h, w)
        assert float(y.min()) >= 0 and float(y.max()) <= 1


def test_tiles_share_the_whole_photos_statistics(encoder, painting) -> None:
    net = small_net(encoder)
    net.set_styles([painting])
    photo = torch.rand(3, 160, 200)
    whole = transform_image(net, photo)
    tiled = transform_image(net, photo, tile=128, overlap=32)
    assert tiled.shape == whole.shape
    # the same colours everywhere: no tile with its own cast (the seams may differ a little)
    assert (tiled.mean((1, 2)) - whole.mean((1, 2))).abs().max() < 0.01
    assert (tiled - whole).abs().mean() < 0.02


def test_the_decoder_file_round_trip_and_refusals(encoder, tmp_path: Path, painting) -> None:
    net = small_net(encoder)
    path = save_decoder(
        tmp_path / "d.safetensors", net.decoder, {"encoder": BACKBONE, "recipe": "r"}
    )
    loaded, meta = load_arbitrary(path)
    assert meta["recipe"] == "r" and loaded.decoder.config == SMALL
    for a, b in ((net, loaded),):
        a.set_styles([painting])
        b.set_styles([painting])
    x = torch.rand(1, 3, 48, 48)
    with torch.no_grad():
        torch.testing.assert_close(loaded(x), net(x), atol=2e-3, rtol=0)  # fp16 weights
    johnson = save_model(tmp_path / "j.safetensors", TransformerNet(), {"style": "x"})
    with pytest.raises(UserError, match="adain-decoder"):
        load_arbitrary(johnson)
    with pytest.raises(ValueError, match="encoder"):
        save_decoder(tmp_path / "e.safetensors", net.decoder, {})


def test_the_training_loss_trains_the_decoder_only(encoder) -> None:
    spec = ENCODERS[BACKBONE]
    loss = AdaINLoss(encoder, spec, style_weight=2.0, own_style_share=0.25)
    assert loss.own_styles(8) == 2 and loss.own_styles(2) == 1
    decoder = Decoder(SMALL)
    photos, paintings = torch.rand(4, 3, 64, 64), torch.rand(4, 3, 64, 64)
    total, logs = loss(decoder, (photos, paintings))
    total.backward()
    assert torch.isfinite(total) and set(logs) == {"content", "style", "pixels"}
    assert all(p.grad is not None for p in decoder.parameters())
    assert all(p.grad is None for p in encoder.parameters())


def test_the_photo_term_adds_the_deep_features_distance_to_the_photo(encoder) -> None:
    spec = ENCODERS[BACKBONE]
    decoder = Decoder(SMALL)
    torch.manual_seed(1)
    photos, paintings = torch.rand(2, 3, 64, 64), torch.rand(2, 3, 64, 64)
    plain, logs = AdaINLoss(encoder, spec, style_weight=2.0)(decoder, (photos, paintings))
    assert "photo" not in logs  # off by default: the paper's loss
    total, logs = AdaINLoss(encoder, spec, style_weight=2.0, photo_weight=3.0)(
        decoder, (photos, paintings)
    )
    with torch.no_grad():
        mine = encoder(decoder(_target(encoder, spec, photos, paintings)), layers=["block7"])
        theirs = encoder(photos, layers=["block7"])
        expected = F.mse_loss(mine["block7"], theirs["block7"]) / theirs["block7"].pow(2).mean()
    assert spec.photo_layer == "block7"  # the quality ruler's and Gatys's content layer
    torch.testing.assert_close(logs["photo"], expected)
    torch.testing.assert_close(total, plain + 3.0 * expected)


def _target(encoder, spec, photos, paintings) -> torch.Tensor:
    layer = spec.adain_layer
    content = encoder(photos, layers=[layer])[layer]
    style = encoder(paintings, layers=[layer])[layer]
    return adain(content, *channel_statistics(style))
