"""``timm:<name>``: the spec from timm's own records, the head through timm's API, and weights
from the Hugging Face cache or not at all: offline, never the network.

timm is imported inside the tests, never at collection, so that huggingface_hub reads its cache
folder after the suite has pointed ``XDG_CACHE_HOME`` at a temporary one; the tests that read the
cache point it at their own besides.
"""

from __future__ import annotations

import importlib.util
import socket
import sys
from pathlib import Path

import pytest
import torch

from shared import backbones
from shared.backbones import timm_models
from shared.backbones.weights import WeightsUnavailable

pytestmark = pytest.mark.skipif(importlib.util.find_spec("timm") is None, reason="no timm")


@pytest.fixture
def no_network(monkeypatch) -> list[str]:
    """Every connection attempt and Hugging Face download, recorded and refused."""
    import huggingface_hub
    import timm.models._hub as timm_hub

    tried: list[str] = []

    def refuse(*args, **kwargs):
        tried.append(repr(args[:2]))
        raise OSError("the network is off in this test")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(huggingface_hub, "hf_hub_download", refuse)
    monkeypatch.setattr(timm_hub, "hf_hub_download", refuse)
    return tried


@pytest.fixture
def hf_cache(tmp_path: Path, monkeypatch) -> Path:
    """An empty Hugging Face cache of the test's own."""
    from huggingface_hub import constants

    cache = tmp_path / "hf"
    cache.mkdir()
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(cache))
    return cache


def put_in_hf_cache(cache: Path, repo: str, state: dict[str, torch.Tensor]) -> Path:
    """``state`` as ``model.safetensors`` of ``repo`` in the cache's own layout."""
    from safetensors.torch import save_file

    folder = cache / f"models--{repo.replace('/', '--')}"
    commit = "0" * 40
    (folder / "refs").mkdir(parents=True)
    (folder / "refs" / "main").write_text(commit)
    snapshot = folder / "snapshots" / commit
    snapshot.mkdir(parents=True)
    save_file({k: v.contiguous() for k, v in state.items()}, snapshot / "model.safetensors")
    return snapshot / "model.safetensors"


def test_spec_takes_mean_std_and_input_size_from_timms_pretrained_config() -> None:
    from timm.models import get_pretrained_cfg

    spec = backbones.get_spec("timm:tf_efficientnet_lite0")
    cfg = get_pretrained_cfg("tf_efficientnet_lite0")
    assert spec.mean == tuple(cfg.mean) == (0.5, 0.5, 0.5) and spec.std == tuple(cfg.std)
    assert spec.extra["input_size"] == tuple(cfg.input_size) and spec.min_input_size == 32
    vit = backbones.get_spec("timm:vit_tiny_patch16_224")  # a fixed input size
    assert vit.extra["fixed_input_size"] and vit.min_input_size == 224
    assert backbones.get_spec("timm:resnet18") is backbones.get_spec("timm:resnet18")  # cached


@pytest.mark.parametrize(
    ("arch", "head"), [("timm:resnet18", "fc"), ("timm:convnext_atto", "head.fc")]
)
def test_finetune_head_freezes_all_but_timms_classifier(arch: str, head: str) -> None:
    model = backbones.create(arch, num_classes=3, finetune="head")
    assert model.get_classifier().out_features == 3
    assert backbones.head_paths(model, backbones.get_spec(arch)) == (head,)
    learning = [n for n, p in model.named_parameters() if p.requires_grad]
    assert learning == [f"{head}.weight", f"{head}.bias"]
    out = model(torch.randn(2, 3, 32, 32))
    out.sum().backward()
    assert model.get_classifier().weight.grad is not None


def test_replace_head_goes_through_reset_classifier() -> None:
    spec = backbones.get_spec("timm:efficientnet_b0")
    model = backbones.create(spec.name, num_classes=1000)
    backbones.replace_head(model, spec, 4)
    assert model.num_classes == 4 and model.classifier.out_features == 4
    assert model(torch.randn(2, 3, 32, 32)).shape == (2, 4)


@pytest.mark.parametrize(
    ("name", "close"),
    [("timm:resnet19", "timm:resnet18"), ("timm:effnet_b0", "timm:efficientnet_b0")],
)
def test_unknown_timm_name_is_one_line_with_close_names(name: str, close: str) -> None:
    with pytest.raises(ValueError) as err:
        backbones.get_spec(name)
    message = str(err.value)
    assert message.startswith(f"unknown timm model {name[5:]!r}; close names: ")
    assert close in message and "\n" not in message


def test_timm_not_installed_names_the_extra(monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "timm", None)  # import timm now raises ImportError
    timm_models.timm_spec.cache_clear()
    try:
        with pytest.raises(ValueError, match=r"pip install 'visionlab\[timm\]'") as err:
            backbones.get_spec("timm:resnet34")
        assert "\n" not in str(err.value)
        assert "timm not installed" in "\n".join(backbones.catalog_lines())
    finally:
        timm_models.timm_spec.cache_clear()


def test_offline_auto_falls_back_with_one_notice_and_no_network(no_network, hf_cache) -> None:
    with pytest.warns(UserWarning) as caught:
        model = backbones.create("timm:resnet18", num_classes=5, pretrained="auto")
    notices = [str(w.message) for w in caught]
    assert len(notices) == 1, notices
    assert notices[0].startswith("timm:resnet18: timm/resnet18.a1_in1k is not in the Hugging Face")
    assert "VISIONLAB_OFFLINE=1" in notices[0]
    assert notices[0].endswith("; starting from random weights")
    assert not model.pretrained and model.fc.out_features == 5
    assert no_network == []
    assert not backbones.weights_available("timm:resnet18")


def test_offline_yes_is_one_line_naming_the_weights(no_network, hf_cache) -> None:
    with pytest.raises(WeightsUnavailable) as err:
        backbones.create("timm:efficientnet_b0", num_classes=5, pretrained="yes")
    assert "timm/efficientnet_b0.ra_in1k" in str(err.value) and str(hf_cache) in str(err.value)
    assert "\n" not in str(err.value) and no_network == []


def test_weights_in_the_hugging_face_cache_load_through_timm(no_network, hf_cache) -> None:
    torch.manual_seed(3)
    imagenet = backbones.create("timm:resnet18", num_classes=1000).state_dict()
    put_in_hf_cache(hf_cache, "timm/resnet18.a1_in1k", imagenet)
    assert backbones.weights_available("timm:resnet18")
    torch.manual_seed(4)
    model = backbones.create("timm:resnet18", num_classes=5, pretrained="yes")
    assert model.pretrained and model.fc.out_features == 5
    state = model.state_dict()
    assert all(torch.equal(state[k], v) for k, v in imagenet.items() if not k.startswith("fc."))
    record = backbones.weights_record("timm:resnet18", "yes", True)
    assert record == {"source": "imagenet", "name": "timm/resnet18.a1_in1k"}
    assert no_network == []
