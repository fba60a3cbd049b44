"""Hostile weights files and model names for ``retinopathy train``: ``--pretrained FILE`` that is
not one, fits nothing, or would run code; ``--arch timm:<name>`` misspelt, without timm, or of a
fixed input size. Each is one line, exit 2, and no run folder.

The cases share one tiny prepared sample set (40 drawn photos at 64 px); those that fail before
any work leave not even that behind.
"""

from __future__ import annotations

import pickle
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
import torch
import torchvision

from retinopathy.__main__ import main
from shared.backbones import timm_models
from tests.reliability.corpus import case, one_line_error

ARGS = ["--task", "referable", "--epochs", "1", "--image-size", "32", "--synthetic-images", "40",
        "--synthetic-size", "64", "--batch-size", "16", "--workers", "1"]  # fmt: skip


class _RunsCode:
    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (self.marker,))


def _unrelated(tmp: Path) -> list[str]:
    path = tmp / "decoder.pth"
    torch.save({"decoder.weight": torch.ones(4, 4), "decoder.bias": torch.ones(4)}, path)
    return ["--arch", "resnet18", "--pretrained", str(path)]


def _runs_code(tmp: Path) -> list[str]:
    path = tmp / "tampered.pth"
    with open(path, "wb") as f:
        pickle.dump({"conv1.weight": _RunsCode(tmp / "pwned")}, f, protocol=2)
    return ["--arch", "resnet18", "--pretrained", str(path)]


def _csv(tmp: Path) -> list[str]:
    path = tmp / "labels.pth"
    path.write_text("image,level\n1_left,2\n")
    return ["--arch", "resnet18", "--pretrained", str(path)]


def _other_shape(tmp: Path) -> list[str]:
    state = torchvision.models.resnet18().state_dict()
    state["conv1.weight"] = torch.ones(64, 1, 7, 7)  # a greyscale model's stem
    path = tmp / "grey.pth"
    torch.save(state, path)
    return ["--arch", "resnet18", "--pretrained", str(path)]


def _absent(tmp: Path) -> list[str]:
    return ["--arch", "resnet18", "--pretrained", str(tmp / "nowhere.pth")]


def _misspelt(tmp: Path) -> list[str]:
    return ["--arch", "timm:efficientnet_b9"]


def _vit(tmp: Path) -> list[str]:
    return ["--arch", "timm:vit_tiny_patch16_224"]


def _no_timm(tmp: Path) -> list[str]:
    return ["--arch", "timm:resnet18", "--pretrained", "no"]


def _offline_yes(tmp: Path) -> list[str]:
    return ["--arch", "timm:resnet18", "--pretrained", "yes"]


AFTER_PREPARE = [
    case(
        "retinopathy train --pretrained", "a file of tensors that fit nothing (a decoder's)",
        "one line: none of its 2 tensors fit resnet18, with a name of each side; no run "
        "folder, exit 2", _unrelated,
        message=r"decoder\.pth: none of its 2 tensors fit resnet18 \(the file's names look like "
        r"'decoder\.weight', the model's like 'conv1\.weight'\)", id="pretrained-fits-nothing",
    ),
    case(
        "retinopathy train --pretrained", "a pickle whose unpickling would call Path.touch",
        "refused in one line naming the global it would call; nothing runs (no marker file), "
        "exit 2", _runs_code, message=r"tampered\.pth refused: unpickling it would call \S+; a "
        "weights file may hold only tensors and plain data", id="pretrained-code",
    ),
    case(
        "retinopathy train --pretrained", "a CSV file named .pth",
        "one line: not a weights file (not a torch, pickle or safetensors file), exit 2", _csv,
        message=r"labels\.pth is not a weights file \(not a torch, pickle or safetensors file\)",
        id="pretrained-csv",
    ),
    case(
        "retinopathy train --pretrained", "torchvision's ResNet-18 with a 1-channel stem",
        "one line naming the tensor and both shapes (a backbone tensor is never skipped), "
        "exit 2", _other_shape,
        message=r"conv1\.weight is \(64, 1, 7, 7\) in the file, \(64, 3, 7, 7\) in the model",
        id="pretrained-other-shape",
    ),
    case(
        "retinopathy train --arch timm:", "timm:resnet18 with --pretrained yes, offline, its "
        "weights not in the Hugging Face cache", "one line naming timm/resnet18.a1_in1k and "
        "VISIONLAB_OFFLINE=1; no download tried, exit 2", _offline_yes,
        message=r"timm/resnet18\.a1_in1k is not in the Hugging Face cache .* VISIONLAB_OFFLINE=1",
        id="timm-offline-yes",
    ),
]  # fmt: skip

BEFORE_ANY_WORK = [
    case(
        "retinopathy train --pretrained", "a weights file that does not exist",
        "one line before any work (no photo drawn or prepared), exit 2", _absent,
        message=r"--pretrained must be no, yes, auto or a weights file; \S+nowhere\.pth does not "
        "exist", id="pretrained-absent",
    ),
    case(
        "retinopathy train --arch timm:", "timm:efficientnet_b9 (no such model)",
        "one line before any work, with the close names timm knows", _misspelt,
        message=r"unknown timm model 'efficientnet_b9'; close names: timm:efficientnet_b",
        id="timm-misspelt",
    ),
    case(
        "retinopathy train --arch timm:", "a ViT of fixed input size 224 at the sample set's 32 px",
        "one line before any work: it takes --image-size 224", _vit,
        message=r"timm:vit_tiny_patch16_224 takes a fixed input size: --image-size 224, not 32",
        id="timm-fixed-size",
    ),
    case(
        "retinopathy train --arch timm:", "timm:resnet18 where timm is not installed",
        "one line before any work naming `pip install 'visionlab[timm]'`", _no_timm,
        message=r"timm:resnet18 needs timm, which is not installed: "
        r"pip install 'visionlab\[timm\]'",
        id="timm-not-installed",
    ),
]  # fmt: skip


@pytest.fixture(scope="module")
def cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("weights-files") / "cache"


@pytest.fixture
def hf_cache(tmp_path: Path, monkeypatch) -> None:
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "hf"))


def _train(argv: list[str], cache: Path, run: Path) -> int:
    return main(["train", *argv, *ARGS, "--cache", str(cache), "--run-dir", str(run)])


@pytest.mark.parametrize(("entry", "make"), AFTER_PREPARE)
def test_a_bad_weights_file_is_one_line_and_leaves_no_run(
    entry, make: Callable[[Path], list[str]], cache: Path, tmp_path: Path, hf_cache, capsys
) -> None:
    pytest.importorskip("timm")
    run = tmp_path / "run"
    assert _train(make(tmp_path), cache, run) == 2
    one_line_error(capsys.readouterr().err, entry)
    assert not run.exists() and not (tmp_path / "pwned").exists()


@pytest.mark.parametrize(("entry", "make"), BEFORE_ANY_WORK)
def test_a_bad_name_or_missing_file_is_refused_before_any_work(
    entry, make: Callable[[Path], list[str]], tmp_path: Path, monkeypatch, capsys
) -> None:
    pytest.importorskip("timm")
    if make is _no_timm:
        monkeypatch.setitem(sys.modules, "timm", None)  # import timm now raises ImportError
        timm_models.timm_spec.cache_clear()
    try:
        assert _train(make(tmp_path), tmp_path / "cache", tmp_path / "run") == 2
    finally:
        timm_models.timm_spec.cache_clear()
    one_line_error(capsys.readouterr().err, entry)
    assert not (tmp_path / "cache").exists() and not (tmp_path / "run").exists()
