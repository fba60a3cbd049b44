"""A user's own weights file in any backbone: a released model, a colleague's checkpoint, a run's.

    report = load_weights_file(model, Path("retfound.pth"), head=("head",), name="timm:vit_...")
    print(report.line)
    # loaded 294 of 296 tensors from retfound.pth (sha256 3b1c...); missing (new head): head.weight,
    # head.bias; unexpected: 4 (decoder_embed.weight, ...)

The file is a ``.safetensors`` file (read with the safetensors package) or anything
``torch.load(weights_only=True)`` reads: a state dict, or a checkpoint holding one under a key of
:data:`WRAPPER_KEYS` (torchvision's and timm's training scripts, Lightning, DINO- and MAE-style
foundation-model releases, this project's own ``checkpoints/best.pt``). Nothing in it can run:
a pickle naming a global outside :data:`HARMLESS_GLOBALS` is refused with one line.

Keys are matched by name: each key of the file, while it names no tensor of the model, loses a
leading prefix of :data:`KEY_PREFIXES`. Shapes must match, except in the classifier (``head``):
a head of another class count is left as the model built it and listed as "missing (new head)".
A file of which nothing fits, or a backbone tensor of another shape, is a one-line
:class:`WeightsMismatch`.
"""

from __future__ import annotations

import functools
import hashlib
import importlib
import pickle
import re
import struct
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from shared.backbones.weights import WeightsCorrupt, WeightsMismatch, WeightsUnavailable

# Stripped from the front of a file's keys, in any order and repeatedly, until a key names a
# tensor of the model: DataParallel / DDP ("module."), torch.compile ("_orig_mod."), Lightning
# and training scripts ("model.", "net."), detection, segmentation and self-supervised code
# ("backbone.", "encoder."), Hugging Face wrappers ("base_model.").
KEY_PREFIXES = ("module.", "_orig_mod.", "model.", "backbone.", "encoder.", "base_model.", "net.")
# Where a checkpoint keeps its state dict, looked for in this order (and again inside it):
# timm / Lightning ("state_dict"), the usual training loops ("model_state_dict", "model"),
# DINO's teacher before its student (the teacher is the one evaluated).
WRAPPER_KEYS = ("state_dict", "model_state_dict", "model", "module", "net", "network",
                "teacher", "student", "params", "weights")  # fmt: skip
# Globals a weights file may name beside tensors: plain data, nothing that runs. Training
# scripts store their flags (an argparse Namespace) and metrics (numpy scalars) next to the
# weights. Resolved by name when a file is read; pickled name -> where it lives now.
HARMLESS_GLOBALS = {
    "argparse.Namespace": "argparse.Namespace",
    "numpy.dtype": "numpy.dtype",
    "numpy.core.multiarray.scalar": "numpy._core.multiarray.scalar",
    "numpy._core.multiarray.scalar": "numpy._core.multiarray.scalar",
    **{f"numpy.dtypes.{t}DType": f"numpy.dtypes.{t}DType"
       for t in ("Float64", "Float32", "Float16", "Int64", "Int32", "Int16", "Int8", "UInt8",
                 "Bool")},
}  # fmt: skip
SHOWN = 3  # key names a summary line shows of each list
SHA_SHOWN = 12  # hex digits of the file's SHA-256 recorded and shown


@dataclass(frozen=True)
class LoadReport:
    """What :func:`load_weights_file` loaded: counts, and the names it could not place."""

    path: Path
    loaded: int
    total: int
    new_head: list[str]
    missing: list[str]
    unexpected: list[str]

    @property
    def line(self) -> str:
        """The one summary line: what loaded, and what did not."""
        parts = [f"loaded {self.loaded} of {self.total} tensors from {self.path} "
                 f"(sha256 {sha256_prefix(self.path)})"]  # fmt: skip
        if self.new_head:
            parts.append(f"missing (new head): {', '.join(self.new_head)}")
        if self.missing:
            parts.append(f"missing: {_some(self.missing)}")
        if self.unexpected:
            parts.append(f"unexpected: {_some(self.unexpected)}")
        return "; ".join(parts)


def _some(names: Sequence[str]) -> str:
    more = ", ..." if len(names) > SHOWN else ""
    return f"{len(names)} ({', '.join(names[:SHOWN])}{more})"


@functools.lru_cache(maxsize=32)
def _digest(path: str, size: int, mtime_ns: int) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def sha256_prefix(path: Path) -> str:
    """The first :data:`SHA_SHOWN` hex digits of the file's SHA-256 (hashed once per version)."""
    stat = Path(path).stat()
    return _digest(str(path), stat.st_size, stat.st_mtime_ns)[:SHA_SHOWN]


def _kind(path: Path) -> str | None:
    """``safetensors`` (an 8-byte little-endian header length, then its JSON), ``torch`` (a zip
    archive, as torch.save writes, or a pickle), or None."""
    with open(path, "rb") as f:
        head = f.read(9)
    header = struct.unpack("<Q", head[:8])[0] if len(head) == 9 else 0
    if head[8:9] == b"{" and header < path.stat().st_size:
        return "safetensors"
    if head.startswith((b"PK\x03\x04", b"\x80")):
        return "torch"
    return None


def _harmless() -> list[Any]:
    out = []
    for pickled, lives in HARMLESS_GLOBALS.items():
        module, _, attr = lives.rpartition(".")
        try:
            out.append((getattr(importlib.import_module(module), attr), pickled))
        except (ImportError, AttributeError):
            continue  # numpy's older or newer layout: that name cannot occur
    return out


def read_weights_file(path: Path) -> Any:
    """The file's content, read without running anything; a one-line error otherwise."""
    if not path.is_file():
        raise WeightsUnavailable(f"no weights file at {path}")
    kind = _kind(path)
    if kind is None:
        empty = path.stat().st_size == 0
        what = "an empty file" if empty else "not a torch, pickle or safetensors file"
        raise WeightsCorrupt(f"{path} is not a weights file ({what})")
    if kind == "safetensors":
        try:
            from safetensors.torch import load_file
        except ImportError:
            raise WeightsUnavailable(
                f"{path} is a safetensors file: pip install safetensors"
            ) from None
        try:
            return load_file(str(path), device="cpu")
        except Exception as exc:  # safetensors raises its own SafetensorError
            raise WeightsCorrupt(
                f"{path} is not a readable safetensors file: {_line(exc)}"
            ) from None
    try:
        with torch.serialization.safe_globals(_harmless()), warnings.catch_warnings():
            # torch's note on a pickle of another protocol would precede the one line
            warnings.filterwarnings("ignore", message="Detected pickle protocol")
            return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        raise WeightsCorrupt(f"{path} refused: {_refusal(str(exc))}") from None
    except Exception as exc:  # a damaged archive: RuntimeError, EOFError, KeyError...
        raise WeightsCorrupt(f"{path} is not a readable torch file: {_line(exc)}") from None


def _line(exc: BaseException) -> str:
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text.splitlines()[0]}" if text else type(exc).__name__


def _refusal(message: str) -> str:
    """Why torch's weights-only unpickler said no, in one line."""
    found = re.search(r"Unsupported global: GLOBAL (\S+)", message)
    if found:
        return (f"unpickling it would call {found.group(1)}; a weights file may hold only tensors "
                "and plain data")  # fmt: skip
    after = message.split("WeightsUnpickler error:", 1)[-1].strip().splitlines()
    return f"it is not a plain tensor file ({after[0].strip() if after else 'unreadable'})"


def state_dict_of(content: Any, path: Path) -> dict[str, torch.Tensor]:
    """The tensors of a state dict, or of the one a checkpoint wraps (:data:`WRAPPER_KEYS`)."""
    for _ in range(len(WRAPPER_KEYS)):
        if not isinstance(content, Mapping):
            break
        inner = next((content[k] for k in WRAPPER_KEYS if isinstance(content.get(k), Mapping)),
                     None)  # fmt: skip
        if inner is None:
            tensors = {str(k): v for k, v in content.items() if isinstance(v, torch.Tensor)}
            if tensors:
                return tensors
            break
        content = inner
    what = f"a {type(content).__name__}"
    if isinstance(content, Mapping):
        what += f" (keys: {', '.join(map(str, list(content)[:5]))})"
    raise WeightsMismatch(f"{path} holds no tensors by name: {what}")


def match_keys(
    file_keys: Sequence[str], model_keys: Sequence[str]
) -> tuple[dict[str, str], list[str]]:
    """Each file key that names a model key once :data:`KEY_PREFIXES` are stripped: file key ->
    model key; and the file keys that name none (or a model key already taken)."""
    wanted = set(model_keys)
    matched: dict[str, str] = {}
    taken: set[str] = set()
    unexpected = []
    for key in file_keys:
        name = key
        while name not in wanted:
            prefix = next((p for p in KEY_PREFIXES if name.startswith(p)), None)
            if prefix is None:
                break
            name = name[len(prefix) :]
        if name in wanted and name not in taken:
            matched[key] = name
            taken.add(name)
        else:
            unexpected.append(key)
    return matched, unexpected


def _in_head(key: str, head: Sequence[str]) -> bool:
    return any(key == h or key.startswith(h + ".") for h in head)


def load_weights_file(
    model: nn.Module, path: Path, head: Sequence[str] = (), name: str = "the model"
) -> LoadReport:
    """Load what fits of the weights file ``path`` into ``model`` (``name`` in messages);
    ``head``: the classifier's module paths. Returns what was loaded."""
    state = state_dict_of(read_weights_file(path), path)
    expected = model.state_dict()
    matched, unexpected = match_keys(list(state), list(expected))
    load = {}
    for key, target in matched.items():
        tensor, want = state[key], expected[target]
        if tensor.shape != want.shape:
            if _in_head(target, head):
                continue  # a head of another class count: the model's own, new
            raise WeightsMismatch(
                f"{path} does not fit {name}: {target} is {tuple(tensor.shape)} in the file, "
                f"{tuple(want.shape)} in the model"
            )
        load[target] = tensor
    if not any(not _in_head(k, head) for k in load):
        raise WeightsMismatch(
            f"{path}: none of its {len(state)} tensors fit {name} (the file's names look like "
            f"{next(iter(state))!r}, the model's like {next(iter(expected))!r})"
        )
    model.load_state_dict(load, strict=False)
    missing = [k for k in expected if k not in load]
    return LoadReport(
        path=path,
        loaded=len(load),
        total=len(expected),
        new_head=[k for k in missing if _in_head(k, head)],
        missing=[k for k in missing if not _in_head(k, head)],
        unexpected=unexpected,
    )
