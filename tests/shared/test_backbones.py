"""The backbone registry: parity with torchvision, every entry trains, weights load safely."""

from __future__ import annotations

import dataclasses
import hashlib
import os
import pickle
import subprocess
import sys
import urllib.error
import warnings
from pathlib import Path

import pytest
import torch
import torchvision
import torchvision.transforms.v2.functional as TF

from shared import backbones
from shared.backbones import registry
from shared.backbones.weights import WeightsCorrupt, WeightsUnavailable, read_state_dict
from tests.helpers import photo

EXPECT = Path(__file__).parents[1] / "expect"
ROOT = Path(__file__).parents[2]
HAND_RESNETS = ("resnet18", "resnet34", "resnet50")


@pytest.mark.parametrize("name", HAND_RESNETS)
def test_hand_written_resnet_matches_torchvision(name: str) -> None:
    reference = getattr(torchvision.models, name)(weights=None).eval()
    ours = backbones.create(name).eval()
    ours.load_state_dict(reference.state_dict())  # strict: every key must line up
    x = torch.randn(2, 3, 96, 96)
    with torch.no_grad():
        assert (ours(x) - reference(x)).abs().max().item() < 1e-5


@pytest.mark.parametrize("name", HAND_RESNETS)
def test_hand_written_resnet_golden_output(name: str) -> None:
    """A seeded forward pass saved once; catches silent numerical drift in the hand-written nets.

    Regenerate on purpose only: ``VISIONLAB_REGEN_GOLDEN=1 pytest tests/shared/test_backbones.py``.
    """
    torch.manual_seed(1234)
    model = backbones.create(name, num_classes=7).eval()
    x = torch.randn(1, 3, 64, 64, generator=torch.Generator().manual_seed(99))
    with torch.no_grad():
        logits = model(x)
    path = EXPECT / f"{name}_seeded_logits.pt"
    if os.environ.get("VISIONLAB_REGEN_GOLDEN"):
        torch.save(logits, path)
    expected = torch.load(path, weights_only=True)
    torch.testing.assert_close(logits, expected, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("name", backbones.list_backbones())
def test_every_backbone_trains_a_step(name: str) -> None:
    """At its smallest accepted input, in training mode (Inception v3's aux head included)."""
    spec = backbones.get_spec(name)
    model = backbones.create(name, num_classes=3).train()
    x = torch.randn(2, 3, spec.min_input_size, spec.min_input_size)
    out = model(x)
    if isinstance(out, tuple):  # Inception v3 in training mode: (logits, aux logits)
        logits, aux = out
        assert aux.shape == (2, 3)
        loss = torch.nn.functional.cross_entropy(logits, torch.tensor([0, 2])) + 0.4 * aux.sum()
    else:
        logits = out
        loss = torch.nn.functional.cross_entropy(logits, torch.tensor([0, 2]))
    assert logits.shape == (2, 3)
    loss.backward()
    grads = [p.grad for p in model.parameters() if p.requires_grad]
    assert all(g is not None and torch.isfinite(g).all() for g in grads)
    assert any(g.abs().sum() > 0 for g in grads)


def test_registry_knows_input_sizes_and_rejects_unknown_or_duplicate_names() -> None:
    assert backbones.get_spec("inception_v3").min_input_size == 75
    assert backbones.get_spec("resnet50").min_input_size == 32
    with pytest.raises(ValueError, match="resnet18"):  # the message lists the valid names
        backbones.create("resnet19")
    with pytest.raises(ValueError, match="already registered"):
        backbones.register(backbones.get_spec("vgg16"))


def test_weights_are_pinned_explicitly() -> None:
    """ResNet50's DEFAULT is V2; the pin must say which file a pre-filled cache needs."""
    from shared.backbones.weights import file_name

    assert file_name(backbones.get_spec("resnet50").weights) == "resnet50-11ad3fa6.pth"
    assert file_name(backbones.get_spec("vgg19").weights) == "vgg19-dcbb9e9d.pth"


def test_efficientnet_lite0_recognises_a_real_photo() -> None:
    spec = backbones.get_spec("efficientnet_lite0")
    model = backbones.create("efficientnet_lite0", pretrained="yes").eval()
    assert model.pretrained
    image = torch.from_numpy(photo("coffee")).permute(2, 0, 1)
    image = TF.center_crop(TF.resize(image, 256, antialias=True), 224)
    x = TF.normalize(image.float() / 255, spec.mean, spec.std)[None]
    with torch.no_grad():
        top5 = model(x).topk(5).indices[0].tolist()
    categories = torchvision.models.ResNet50_Weights.IMAGENET1K_V2.meta["categories"]
    names = {categories[i] for i in top5}
    assert names & {"espresso", "cup", "coffee mug"}, names


def test_pretrained_yes_offline_names_the_expected_file() -> None:
    with pytest.raises(WeightsUnavailable) as err:
        backbones.create("resnet50", num_classes=5, pretrained="yes")
    message = str(err.value)
    assert "resnet50-11ad3fa6.pth" in message
    assert str(Path(torch.hub.get_dir()) / "checkpoints") in message
    assert "\n" not in message


def test_pretrained_auto_offline_warns_and_starts_random() -> None:
    with pytest.warns(UserWarning, match="random weights"):
        model = backbones.create("squeezenet1_1", num_classes=4, pretrained="auto")
    assert not model.pretrained
    assert model.classifier[1].out_channels == 4


@pytest.fixture
def unreachable(monkeypatch) -> list[str]:
    """The network down: every download torch.hub starts raises URLError; the urls tried."""
    tried: list[str] = []

    def refuse(url, *args, **kwargs):
        tried.append(url)
        raise urllib.error.URLError("[Errno -3] Temporary failure in name resolution")

    monkeypatch.delenv("VISIONLAB_OFFLINE", raising=False)
    monkeypatch.setattr(torch.hub, "download_url_to_file", refuse)
    return tried


def _two_pretrained_backbones() -> list[str]:
    """Build two backbones whose weights are not cached; the warnings they gave."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for name in ("squeezenet1_1", "resnet18"):
            assert not backbones.create(name, num_classes=3, pretrained="auto").pretrained
    return [str(w.message) for w in caught]


def test_a_failed_download_is_one_notice_per_process_and_no_torch_chatter(
    unreachable, capfd
) -> None:
    notices = _two_pretrained_backbones()
    assert len(notices) == 1, notices
    assert notices[0].startswith("squeezenet1_1: ImageNet weights not found: expected ")
    assert "name resolution; set VISIONLAB_OFFLINE=1 to skip trying" in notices[0]
    assert notices[0].endswith("; starting from random weights") and "\n" not in notices[0]
    assert len(unreachable) == 1  # the second model waits for no second timeout
    printed = capfd.readouterr()
    assert "Downloading" not in printed.out + printed.err


def test_a_process_building_two_models_offline_prints_one_line() -> None:
    code = (
        "from shared import backbones\n"
        "for name in ('squeezenet1_1', 'resnet18'):\n"
        "    assert not backbones.create(name, num_classes=3, pretrained='auto').pretrained\n"
    )
    env = {**os.environ, "VISIONLAB_OFFLINE": "1", "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    done = subprocess.run([sys.executable, "-c", code], env=env, cwd=ROOT, capture_output=True,
                          text=True, timeout=120)  # fmt: skip
    assert done.returncode == 0, done.stderr
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len([line for line in lines if "VISIONLAB_OFFLINE=1" in line]) == 1, lines
    assert "Downloading" not in done.stdout + done.stderr


def test_visionlab_offline_skips_the_download_and_says_so_once(unreachable, monkeypatch, capfd):
    monkeypatch.setenv("VISIONLAB_OFFLINE", "1")
    notices = _two_pretrained_backbones()
    assert len(notices) == 1 and "VISIONLAB_OFFLINE=1 forbids downloading it" in notices[0]
    assert unreachable == []
    printed = capfd.readouterr()
    assert "Downloading" not in printed.out + printed.err


class _RunsCode:
    """Unpickling this would create a marker file: what a tampered weights file could do."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (self.marker,))


def _malicious_file(path: Path, marker: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as f:
        pickle.dump({"conv1.weight": _RunsCode(marker)}, f)
    return path


def test_tampered_file_in_torch_cache_is_refused(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    cache = Path(torch.hub.get_dir()) / "checkpoints"
    planted = _malicious_file(cache / "resnet18-f37072fd.pth", marker)
    try:
        with pytest.raises(WeightsCorrupt, match="SHA-256"):
            backbones.create("resnet18", pretrained="yes")
        with pytest.raises(WeightsCorrupt, match="SHA-256"):
            backbones.create("resnet18", pretrained="auto")  # never silently falls back
    finally:
        planted.unlink()
    assert not marker.exists()


def test_pickle_payload_is_refused_even_without_a_hash_in_its_name(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    planted = _malicious_file(tmp_path / "weights.pth", marker)
    with pytest.raises(WeightsCorrupt, match="not a plain tensor file"):
        read_state_dict(planted)
    assert not marker.exists()


@dataclasses.dataclass(frozen=True)
class _LocalWeights:
    url: str


def _place_weights(state: dict[str, torch.Tensor], stem: str) -> _LocalWeights:
    """Save ``state`` into the torch cache under a torchvision-style hashed file name."""
    cache = Path(torch.hub.get_dir()) / "checkpoints"
    cache.mkdir(parents=True, exist_ok=True)
    tmp = cache / "staging.pth"
    torch.save(state, tmp)
    digest = hashlib.sha256(tmp.read_bytes()).hexdigest()[:8]
    final = cache / f"{stem}-{digest}.pth"
    tmp.replace(final)
    return _LocalWeights(url=f"https://example.invalid/models/{final.name}")


def test_cached_weights_load_then_head_is_replaced_and_frozen(monkeypatch) -> None:
    source = torchvision.models.resnet18(weights=None).state_dict()
    weights = _place_weights(source, "resnet18-test")
    spec = dataclasses.replace(backbones.get_spec("resnet18"), weights=weights)
    monkeypatch.setitem(registry._REGISTRY, "resnet18", spec)

    model = backbones.create("resnet18", num_classes=5, pretrained="yes", finetune="head")
    assert model.pretrained
    state = model.state_dict()
    for key, value in source.items():
        if not key.startswith("fc."):
            assert torch.equal(state[key], value), key
    assert model.fc.out_features == 5
    trainable = {n for n, p in model.named_parameters() if p.requires_grad}
    assert trainable == {"fc.weight", "fc.bias"}


def test_inception_head_replacement_covers_aux_logits(monkeypatch) -> None:
    model = backbones.create("inception_v3", num_classes=3, finetune="head")
    trainable = {n for n, p in model.named_parameters() if p.requires_grad}
    assert trainable == {"fc.weight", "fc.bias", "AuxLogits.fc.weight", "AuxLogits.fc.bias"}


def test_inception_aux_head_unchanged_at_299_and_works_below() -> None:
    from torchvision.models.inception import InceptionAux

    ours = backbones.create("inception_v3", num_classes=4).AuxLogits.eval()
    reference = InceptionAux(768, 4).eval()
    reference.load_state_dict(ours.state_dict())
    x = torch.randn(2, 768, 17, 17)  # what the aux head sees at 299 px
    with torch.no_grad():
        assert torch.equal(ours(x), reference(x))
        assert ours(torch.randn(2, 768, 4, 4)).shape == (2, 4)  # ~96 px input
