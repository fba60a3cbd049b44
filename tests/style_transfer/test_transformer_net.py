"""Johnson's transformer net: any size in and out, the upsampling rewrite, model files.

.venv/bin/python -m pytest tests/style_transfer/test_transformer_net.py -q
"""

from __future__ import annotations

import json
import os
import struct
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from safetensors.torch import save_file

from shared.errors import UserError
from style_transfer.transformer_net import (
    NetConfig,
    TransformerNet,
    UpsampleConvLayer,
    channels_last,
    load_model,
    save_model,
    to_inference,
)

EXPECT = Path(__file__).parents[1] / "expect"
SMALL = NetConfig(widths=(8, 16, 32), residual_blocks=2)


def small_net(seed: int = 0) -> TransformerNet:
    torch.manual_seed(seed)
    return TransformerNet(SMALL).eval()


def test_output_keeps_any_input_size() -> None:
    net = small_net()
    for size in [(97, 255), (338, 21), (8, 8), (9, 13), (31, 30)]:
        x = torch.rand(2, 3, *size)
        with torch.no_grad():
            y = net(x)
        assert y.shape == x.shape
        assert y.min().item() >= 0.0 and y.max().item() <= 1.0


def test_default_net_keeps_255x97_and_has_the_papers_size() -> None:
    net = TransformerNet().eval()
    with torch.no_grad():
        assert net(torch.rand(1, 3, 97, 255)).shape == (1, 3, 97, 255)
    assert sum(p.numel() for p in net.parameters()) == 1_679_235  # as pytorch/examples


def test_too_small_input_is_refused() -> None:
    with pytest.raises(ValueError, match="too small"):
        small_net()(torch.rand(1, 3, 7, 40))


def test_inference_layout_gives_the_same_output() -> None:
    net = small_net(3)
    x = torch.rand(2, 3, 28, 44)
    with torch.no_grad():
        expected = net(x)
        fast = to_inference(net, "cpu")(channels_last(x))
    assert (fast - expected).abs().max().item() < 1e-4  # channels_last, batch of 2


@pytest.mark.parametrize("size", [(5, 7), (1, 6)])
def test_upsample_conv_is_upsample_then_conv_values_and_gradients(size: tuple[int, int]) -> None:
    layer = UpsampleConvLayer(4, 5)
    x = torch.randn(2, 4, *size, requires_grad=True)
    upsampled = F.interpolate(x, scale_factor=2, mode="nearest")
    expected = layer.conv2d(F.pad(upsampled, (1, 1, 1, 1), mode="reflect"))
    got = layer(x)
    torch.testing.assert_close(got, expected, atol=1e-5, rtol=1e-5)
    g = torch.randn_like(got)
    grads = torch.autograd.grad((got * g).sum(), [x, layer.conv2d.weight])
    expected_grads = torch.autograd.grad((expected * g).sum(), [x, layer.conv2d.weight])
    for a, b in zip(grads, expected_grads, strict=True):
        torch.testing.assert_close(a, b, atol=1e-4, rtol=1e-4)


def test_every_parameter_trains() -> None:
    net = TransformerNet(SMALL).train()
    net(torch.rand(2, 3, 36, 44)).mean().backward()
    for name, p in net.named_parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all(), name
        assert p.grad.abs().sum() > 0, name


def test_golden_output() -> None:
    """A seeded forward pass saved once; catches silent numerical drift.

    Regenerate on purpose only: ``VISIONLAB_REGEN_GOLDEN=1 pytest tests/style_transfer``.
    """
    net = small_net(seed=1234)
    x = torch.rand(1, 3, 22, 30, generator=torch.Generator().manual_seed(99))
    with torch.no_grad():
        y = net(x)
    path = EXPECT / "johnson_small_seeded_output.pt"
    if os.environ.get("VISIONLAB_REGEN_GOLDEN"):
        torch.save(y, path)
    torch.testing.assert_close(y, torch.load(path, weights_only=True), rtol=1e-4, atol=1e-5)


# ----------------------------------------------------------------------------- model files


def test_save_load_round_trip_in_fp16(tmp_path: Path) -> None:
    torch.manual_seed(0)
    net = TransformerNet().eval()
    meta = {"style": "starry", "recipe": {"content_weight": 1e5, "steps": 2000}}
    path = save_model(tmp_path / "starry.safetensors", net, meta)
    assert 3_000_000 < path.stat().st_size < 3_500_000  # fp16: 2 bytes per parameter
    assert [p.name for p in tmp_path.iterdir()] == ["starry.safetensors"]  # no temp file left
    loaded, loaded_meta = load_model(path)
    assert loaded_meta == meta
    assert loaded.config == net.config and not loaded.training
    for (k, a), (_, b) in zip(net.state_dict().items(), loaded.state_dict().items(), strict=True):
        assert b.dtype == torch.float32, k
        torch.testing.assert_close(b, a.half().float(), rtol=0, atol=0)
    x = torch.rand(1, 3, 40, 56)
    with torch.no_grad():
        assert (net(x) - loaded(x)).abs().mean().item() < 0.5 / 255


def test_config_is_rebuilt_from_the_file_alone(tmp_path: Path) -> None:
    path = save_model(tmp_path / "small.safetensors", small_net(), {"style": "x"})
    loaded, _ = load_model(path)
    assert loaded.config == SMALL


def _saved(tmp_path: Path) -> Path:
    return save_model(tmp_path / "m.safetensors", small_net(), {"style": "x"})


def _header(path: Path) -> tuple[dict, bytes]:
    raw = path.read_bytes()
    n = struct.unpack("<Q", raw[:8])[0]
    return json.loads(raw[8 : 8 + n]), raw[8 + n :]


def _with_header(path: Path, header: dict, body: bytes) -> None:
    text = json.dumps(header).encode()
    text += b" " * (-len(text) % 8)
    path.write_bytes(struct.pack("<Q", len(text)) + text + body)


def _corrupt_truncated(path: Path) -> None:
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def _corrupt_not_safetensors(path: Path) -> None:
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 8)


def _corrupt_flipped_byte(path: Path) -> None:
    raw = bytearray(path.read_bytes())
    raw[-100] ^= 0x40
    path.write_bytes(bytes(raw))


def _corrupt_other_arch(path: Path) -> None:
    header, body = _header(path)
    header["__metadata__"]["arch"] = "resnet18"
    _with_header(path, header, body)


def _corrupt_other_config(path: Path) -> None:
    """Tensors of the small net under a header that claims the default widths."""
    header, body = _header(path)
    header["__metadata__"]["config"] = json.dumps({"widths": [32, 64, 128], "residual_blocks": 5})
    _with_header(path, header, body)


def _corrupt_plain_state_dict(path: Path) -> None:
    save_file({k: v.contiguous() for k, v in TransformerNet().state_dict().items()}, str(path))


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (_corrupt_truncated, "not a readable model file"),
        (_corrupt_not_safetensors, "not a readable model file"),
        (_corrupt_flipped_byte, "corrupt"),
        (_corrupt_other_arch, "'resnet18' model, not 'johnson-transformer'"),
        (_corrupt_other_config, "does not match"),
        (_corrupt_plain_state_dict, "not a style-transfer model file"),
    ],
)
def test_bad_model_files_are_one_line_user_errors(tmp_path: Path, damage, message: str) -> None:
    path = _saved(tmp_path)
    damage(path)
    with pytest.raises(UserError, match=message) as info:
        load_model(path)
    assert "\n" not in str(info.value) and str(path) in str(info.value)


def test_missing_model_file(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="not found"):
        load_model(tmp_path / "nope.safetensors")


def test_failed_save_leaves_the_old_file(tmp_path: Path) -> None:
    path = _saved(tmp_path)
    before = path.read_bytes()
    net = small_net()
    with torch.no_grad():
        net.conv1.conv2d.weight[0, 0, 0, 0] = 1e6  # overflows float16
    with pytest.raises(ValueError, match="not finite"):
        save_model(path, net, {})
    assert path.read_bytes() == before and len(list(tmp_path.iterdir())) == 1


# ----------------------------------------------------------------------------- ONNX


def test_onnx_export_has_dynamic_size_and_computes_the_same(tmp_path: Path) -> None:
    onnx = pytest.importorskip("onnx")
    from onnx.reference import ReferenceEvaluator

    from style_transfer.export import export_onnx

    net = small_net()
    path = export_onnx(net, tmp_path / "net.onnx")
    model = onnx.load(str(path))
    dims = model.graph.input[0].type.tensor_type.shape.dim
    assert [d.dim_param for d in dims] == ["batch", "", "height", "width"]
    assert "Einsum" not in {n.op_type for n in model.graph.node}
    x = torch.rand(1, 3, 21, 30)  # exported at 64x96: another, odd size
    (y,) = ReferenceEvaluator(model).run(None, {"image": x.numpy()})
    with torch.no_grad():
        expected = net(x).numpy()
    assert y.shape == expected.shape and np.abs(y - expected).max() < 1e-5
