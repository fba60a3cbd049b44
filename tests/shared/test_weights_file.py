"""``pretrained=<file>``: a user's own weights into any backbone, matched by name after the
prefix mapping, summarised in one line; what fits nothing, or would run code, refused in one."""

from __future__ import annotations

import argparse
import pickle
from pathlib import Path

import numpy as np
import pytest
import torch
import torchvision

from shared import backbones
from shared.backbones.weights import WeightsCorrupt, WeightsMismatch
from shared.backbones.weights_file import load_weights_file, match_keys, sha256_prefix


def _reference(num_classes: int = 1000, seed: int = 7) -> dict[str, torch.Tensor]:
    torch.manual_seed(seed)
    return torchvision.models.resnet18(num_classes=num_classes).state_dict()


def _backbone_equal(model: torch.nn.Module, reference: dict[str, torch.Tensor]) -> bool:
    state = model.state_dict()
    return all(torch.equal(state[k], v) for k, v in reference.items() if not k.startswith("fc."))


def test_a_module_prefixed_checkpoint_loads_with_its_summary_line(tmp_path: Path, capsys) -> None:
    reference = _reference()
    path = tmp_path / "colleague.pth"
    wrapped = {f"module.{k}": v for k, v in reference.items()}
    torch.save({"state_dict": wrapped, "epoch": 12, "best_acc1": 0.71}, path)
    model = backbones.create("resnet18", num_classes=5, pretrained=path)
    assert model.pretrained and model.fc.out_features == 5
    assert _backbone_equal(model, reference)
    line = capsys.readouterr().out.strip()
    assert line == (
        f"loaded 120 of 122 tensors from {path} (sha256 {sha256_prefix(path)}); "
        "missing (new head): fc.weight, fc.bias"
    )


def test_unexpected_tensors_are_counted_and_named(tmp_path: Path) -> None:
    reference = _reference(num_classes=5)
    extra = {"proj.weight": torch.ones(2, 2), "proj.bias": torch.ones(2),
             "mask_token": torch.ones(1)}  # fmt: skip
    path = tmp_path / "more.pt"
    torch.save({"model": {**reference, **extra}}, path)
    model = backbones.create("resnet18", num_classes=5)
    report = load_weights_file(model, path, head=("fc",), name="resnet18")
    assert report.loaded == report.total == 122 and not report.new_head
    assert report.line.endswith("; unexpected: 3 (proj.weight, proj.bias, mask_token)")
    assert torch.equal(model.state_dict()["fc.weight"], reference["fc.weight"])


def test_prefixes_strip_in_any_order_and_safetensors_files_load(tmp_path: Path) -> None:
    from safetensors.torch import save_file

    reference = _reference()
    path = tmp_path / "foundation.safetensors"
    save_file({f"model.backbone.{k}": v for k, v in reference.items()}, str(path))
    model = backbones.create("tv_resnet18", num_classes=2, pretrained=str(path))
    assert _backbone_equal(model, reference)
    matched, unexpected = match_keys(["module.encoder.conv1.weight", "other"], ["conv1.weight"])
    assert matched == {"module.encoder.conv1.weight": "conv1.weight"} and unexpected == ["other"]


def test_a_training_scripts_checkpoint_with_its_flags_and_metrics_loads(tmp_path: Path) -> None:
    """timm's and torchvision's train.py store an argparse Namespace and numpy numbers."""
    reference = _reference()
    path = tmp_path / "checkpoint.pth.tar"
    torch.save({"state_dict": reference, "args": argparse.Namespace(lr=0.1, model="resnet18"),
                "metric": np.float64(71.2), "epoch": np.int64(90)}, path)  # fmt: skip
    model = backbones.create("resnet18", num_classes=1000, pretrained=path)
    assert all(torch.equal(model.state_dict()[k], v) for k, v in reference.items())


def test_a_timm_model_takes_a_file_and_a_new_head_through_get_classifier(tmp_path: Path) -> None:
    pytest.importorskip("timm")
    torch.manual_seed(1)
    source = backbones.create("timm:efficientnet_b0", num_classes=1000).state_dict()
    path = tmp_path / "effnet.pth"
    torch.save({f"_orig_mod.{k}": v for k, v in source.items()}, path)
    model = backbones.create("timm:efficientnet_b0", num_classes=3, pretrained=path)
    state = model.state_dict()
    assert all(torch.equal(state[k], v) for k, v in source.items() if "classifier" not in k)
    report = load_weights_file(model, path, head=("classifier",))
    assert report.new_head == ["classifier.weight", "classifier.bias"]


def test_unrelated_tensors_are_one_line(tmp_path: Path) -> None:
    path = tmp_path / "unrelated.pth"
    torch.save({"decoder.weight": torch.ones(3), "decoder.bias": torch.ones(3)}, path)
    with pytest.raises(WeightsMismatch) as err:
        backbones.create("resnet18", num_classes=5, pretrained=path)
    message = str(err.value)
    assert "none of its 2 tensors fit resnet18" in message and "'decoder.weight'" in message
    assert "\n" not in message


def test_a_backbone_tensor_of_another_shape_is_one_line(tmp_path: Path) -> None:
    reference = _reference()
    reference["layer1.0.conv1.weight"] = torch.ones(64, 64, 1, 1)
    path = tmp_path / "other.pth"
    torch.save(reference, path)
    with pytest.raises(WeightsMismatch, match=r"layer1\.0\.conv1\.weight is \(64, 64, 1, 1\) in "
                       r"the file, \(64, 64, 3, 3\) in the model"):  # fmt: skip
        backbones.create("resnet18", num_classes=5, pretrained=path)


class _RunsCode:
    """Unpickling this would create a marker file: what a tampered weights file could do."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (self.marker,))


@pytest.mark.parametrize("protocol", [2, pickle.DEFAULT_PROTOCOL])
def test_a_pickle_that_would_run_code_is_refused(tmp_path: Path, protocol: int) -> None:
    marker = tmp_path / "pwned"
    path = tmp_path / "weights.pth"
    with open(path, "wb") as f:
        pickle.dump({"conv1.weight": _RunsCode(marker)}, f, protocol=protocol)
    with pytest.raises(WeightsCorrupt, match="refused") as err:
        backbones.create("resnet18", pretrained=path)
    assert "\n" not in str(err.value) and not marker.exists()


@pytest.mark.parametrize("content", [b"", b"name,grade\n1_left,2\n", b"\xff\xd8\xff\xe0 jpeg"])
def test_a_file_that_is_not_a_tensor_file_is_one_line(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "weights.pth"
    path.write_bytes(content)
    with pytest.raises(WeightsCorrupt) as err:
        backbones.create("resnet18", pretrained=path)
    assert str(err.value).startswith(str(path)) and "\n" not in str(err.value)


def test_a_checkpoint_without_a_state_dict_is_one_line(tmp_path: Path) -> None:
    path = tmp_path / "empty.pth"
    torch.save({"epoch": 3, "optimizer": {"lr": 0.1}}, path)
    with pytest.raises(WeightsMismatch, match=r"holds no tensors by name: a dict \(keys: epoch"):
        backbones.create("resnet18", pretrained=path)


def test_the_record_names_the_file_by_path_and_hash(tmp_path: Path) -> None:
    path = tmp_path / "w.pth"
    torch.save(_reference(), path)
    record = backbones.weights_record("resnet18", path, True)
    assert record == {"source": "file", "path": str(path.resolve()), "sha256": sha256_prefix(path)}
    assert backbones.weights_line(record) == f"weights from {path}, sha256 {record['sha256']}"
    assert backbones.weights_line(backbones.weights_record("resnet18", "auto", False)) == (
        "random init"
    )
    imagenet = backbones.weights_record("resnet50", "yes", True)
    assert backbones.weights_line(imagenet) == "ImageNet weights (resnet50-11ad3fa6.pth)"
