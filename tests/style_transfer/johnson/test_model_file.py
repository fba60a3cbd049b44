"""Model files: fp16 round trip, the config rebuilt from the file, damaged files refused."""

from __future__ import annotations

import json
import struct
from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file

from shared.errors import UserError
from style_transfer.johnson.model_file import CHECKSUM, header_digest, load_model, save_model
from style_transfer.johnson.net import TransformerNet
from tests.style_transfer.johnson.small_nets import SMALL, small_net


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
    """Tensors of the small net under a header (its checksum recomputed) that claims the
    default widths."""
    header, body = _header(path)
    fields = header["__metadata__"]
    fields["config"] = json.dumps({"widths": [32, 64, 128], "residual_blocks": 5})
    fields[CHECKSUM] = header_digest(fields)
    _with_header(path, header, body)


def _corrupt_plain_state_dict(path: Path) -> None:
    state = TransformerNet().state_dict()  # the weights alone, without the file's header
    save_file({k: v.contiguous() for k, v in state.items()}, str(path))


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (_corrupt_truncated, "not a readable model file"),
        (_corrupt_not_safetensors, "not a readable model file"),
        (_corrupt_flipped_byte, "corrupt"),
        (_corrupt_other_arch, "'resnet18' model, not 'johnson-transformer'"),
        (_corrupt_other_config, "does not match its 'johnson-transformer' config"),
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
