"""Model files of Johnson networks: fp16 safetensors carrying their config and training recipe.

    from style_transfer.johnson.model_file import load_model, save_model
    save_model("starry.safetensors", net, {"style": "starry", "recipe": "..."})  # fp16, 3.4 MB
    net, meta = load_model("starry.safetensors", device="cpu")

The header carries the architecture tag and version, the network's :class:`NetConfig` (so the
file alone rebuilds the network), the caller's metadata, a SHA-256 of the tensors (``sha256``)
and a SHA-256 of every other header field (``checksum``), so a damaged file, weights or header, is
refused rather than loaded as noise or with someone else's metadata. Files written before the
header had its own checksum still load: their tensors are checked, their header parsed strictly.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch
from safetensors import safe_open
from safetensors.torch import save_file
from torch import nn

from shared.atomic import atomic_path
from shared.errors import UserError
from style_transfer.johnson.net import NetConfig, TransformerNet

ARCH = "johnson-transformer"
ARCH_VERSION = 1


@dataclass(frozen=True)
class ModelKind:
    """One kind of network these files hold: its tag and version, how to rebuild it."""

    arch: str
    version: int
    config_from_dict: Callable[[dict[str, Any]], Any]
    build: Callable[[Any], nn.Module]


JOHNSON = ModelKind(ARCH, ARCH_VERSION, NetConfig.from_dict, TransformerNet)
FILE_FORMAT = "visionlab-style-model"
CHECKSUM = "checksum"  # the header field holding the SHA-256 of all the others


def save_model(
    path: str | Path, model: nn.Module, meta: dict[str, Any], kind: ModelKind = JOHNSON
) -> Path:
    """Write ``model`` as fp16 safetensors with its config and ``meta``, atomically.

    ``meta`` (JSON-serialisable: style name, training recipe...) comes back from
    :func:`load_model`. The header also carries the architecture tag and version and the
    checksums of the tensors and of the header itself.
    """
    path = Path(path)
    tensors = {
        k: v.detach().to("cpu", torch.float16).contiguous() for k, v in model.state_dict().items()
    }
    bad = [k for k, v in tensors.items() if not torch.isfinite(v).all()]
    if bad:
        raise ValueError(f"weights not finite in float16: {', '.join(bad[:3])}")
    header = {
        "format": FILE_FORMAT,
        "arch": kind.arch,
        "arch_version": str(kind.version),
        "config": json.dumps(asdict(model.config)),
        "meta": json.dumps(meta, sort_keys=True),
        "sha256": _digest(tensors),
    }
    header[CHECKSUM] = header_digest(header)
    with atomic_path(path) as tmp:
        save_file(tensors, str(tmp), metadata=header)
    return path


def load_model(
    path: str | Path, device: torch.device | str = "cpu", kind: ModelKind = JOHNSON
) -> tuple[nn.Module, dict[str, Any]]:
    """Rebuild the network from a file written by :func:`save_model`; returns (model, meta).

    The model is float32, in eval mode, on ``device``. A missing, truncated or corrupt file, a
    file that is not safetensors, or a model of another architecture raises :class:`UserError`.
    """
    path = Path(path)
    if not path.is_file():
        raise UserError(f"model file not found: {path}")
    header, tensors = _read_safetensors(path)
    config = _check_header(path, header, kind)
    model = kind.build(config)
    _check_tensors(path, model, tensors, kind.arch)
    if header.get("sha256") != _digest(tensors):
        raise UserError(f"model file {path} is corrupt (checksum mismatch)")
    meta = _meta(path, header)
    model.load_state_dict({k: v.float() for k, v in tensors.items()})
    return model.eval().to(device), meta


def _read_safetensors(path: Path) -> tuple[dict[str, str], dict[str, torch.Tensor]]:
    try:
        with safe_open(str(path), framework="pt") as f:
            return dict(f.metadata() or {}), {k: f.get_tensor(k) for k in f.keys()}  # noqa: SIM118
    except Exception as exc:  # safetensors raises its own, OSError, ValueError... all mean the same
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise UserError(
            f"{path} is not a readable model file (truncated, corrupt or not safetensors: {reason})"
        ) from None


def _check_header(path: Path, header: dict[str, str], kind: ModelKind) -> Any:
    if header.get("format") != FILE_FORMAT:
        raise UserError(f"{path} is not a style-transfer model file (no '{FILE_FORMAT}' header)")
    if header.get("arch") != kind.arch:
        raise UserError(f"{path} holds a '{header.get('arch')}' model, not '{kind.arch}'")
    if header.get("arch_version") != str(kind.version):
        raise UserError(
            f"{path} is '{kind.arch}' version {header.get('arch_version')}; "
            f"this code reads version {kind.version}"
        )
    # before the config is used: an edited header must not build (or size) anything
    if CHECKSUM in header and header[CHECKSUM] != header_digest(header):
        raise UserError(f"model file {path} is corrupt (its header does not match its checksum)")
    try:
        return kind.config_from_dict(json.loads(header["config"]))
    except (KeyError, TypeError, ValueError) as exc:
        raise UserError(f"{path} has an unreadable network config: {exc}") from None


def _meta(path: Path, header: dict[str, str]) -> dict[str, Any]:
    try:
        meta = json.loads(header["meta"])
    except (KeyError, ValueError) as exc:
        raise UserError(f"{path} has unreadable metadata: {type(exc).__name__}: {exc}") from None
    if not isinstance(meta, dict):
        raise UserError(f"{path} has unreadable metadata: not a JSON object")
    return meta


def _check_tensors(
    path: Path, model: nn.Module, tensors: dict[str, torch.Tensor], arch: str
) -> None:
    expected = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    found = {k: tuple(v.shape) for k, v in tensors.items()}
    problems = [f"missing {k}" for k in expected.keys() - found.keys()]
    problems += [f"unexpected {k}" for k in found.keys() - expected.keys()]
    problems += [
        f"{k} is {found[k]}, expected {shape}"
        for k, shape in expected.items()
        if k in found and found[k] != shape
    ]
    if problems:
        more = f" (+{len(problems) - 3} more)" if len(problems) > 3 else ""
        raise UserError(
            f"{path} does not match its '{arch}' config: {'; '.join(sorted(problems)[:3])}{more}"
        )
    if not all(torch.isfinite(v).all() for v in tensors.values()):
        raise UserError(f"model file {path} holds non-finite weights")


def _digest(tensors: dict[str, torch.Tensor]) -> str:
    h = hashlib.sha256()
    for k in sorted(tensors):
        v = tensors[k]
        h.update(f"{k}:{v.dtype}:{tuple(v.shape)};".encode())
        h.update(v.contiguous().reshape(-1).view(torch.uint8).numpy().tobytes())  # 0-d too
    return h.hexdigest()


def header_digest(header: dict[str, str]) -> str:
    """SHA-256 of every header field but the checksum itself, in a canonical order."""
    fields = {k: v for k, v in header.items() if k != CHECKSUM}
    return hashlib.sha256(json.dumps(fields, sort_keys=True).encode()).hexdigest()
