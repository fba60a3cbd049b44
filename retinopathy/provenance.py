"""What a run's model was trained on and from which weights, in one plain sentence.

    from retinopathy.provenance import run_provenance
    p = run_provenance("runs/retinopathy/<run>")
    p.sentence   # "trained on the built-in synthetic sample set (drawn eyes, 400 photos),
                 #  from random weights"
    p.caveat     # the warning predict prints when the grades of real photos mean nothing

The sentence is derived from the run's config.json alone (its ``data``, ``format``,
``trained_on`` and ``init_weights``); for a run recorded before ``trained_on`` existed, the
photo count comes from its split.csv. ``train`` prints it in its header, ``report.md`` opens with
it, and ``predict`` writes it beside every grade.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from retinopathy.config import RunConfig, read_run_config
from retinopathy.data.pooled import source_paths
from retinopathy.data.run_data import SPLIT_FILE
from shared.backbones import TIMM_PREFIX

CAVEAT = "its grades of real fundus photos mean nothing clinically"


@dataclass(frozen=True)
class Provenance:
    """The run's training data and starting weights, as words."""

    data: str
    weights: str
    synthetic: bool
    random_init: bool

    @property
    def sentence(self) -> str:
        return f"trained on {self.data}, from {self.weights}"

    @property
    def caveat(self) -> str | None:
        """A warning where the model learnt from drawn eyes or from random weights alone."""
        if not (self.synthetic or self.random_init):
            return None
        return f"this model was {self.sentence}; {CAVEAT}"


def trained_on_record(photos: int, fmt: str | None) -> dict[str, Any]:
    """What ``train`` records as ``trained_on`` in config.json: the format the photos were read
    in (None: the sample set) and the count of usable photos (train, validation and test)."""
    return {"format": fmt, "photos": int(photos)}


def provenance(config: RunConfig, photos: int | None = None) -> Provenance:
    """The provenance of a run with ``config``; ``photos`` where config.json does not say."""
    record = config.trained_on or {}
    photos = record.get("photos", photos)
    counted = f"{photos} photos" if photos is not None else None
    if config.data.on_sample_set:
        count = counted or f"{config.data.synthetic_images} photos"
        data = f"the built-in synthetic sample set (drawn eyes, {count})"
    else:
        paths = source_paths(config.data.data)
        name = " + ".join(Path(p).name or p for p in paths)
        fmt = record.get("format") or config.data.format
        inner = ", ".join(x for x in (f"{fmt} format" if fmt else None, counted) if x)
        data = f"{name} ({inner})" if inner else name
    weights = weights_phrase(config.weights, config.arch)
    random_init = config.weights.get("source") == "random"
    return Provenance(data, weights, config.data.on_sample_set, random_init)


def weights_phrase(record: dict[str, Any], arch: str) -> str:
    """``random weights``, ``ImageNet weights (<file>)``, ``timm's pretrained weights (<id>)``
    or ``the weights file <path> (--pretrained, sha256 <prefix>)``."""
    source = record.get("source")
    if source == "file":
        path, sha = record.get("path"), record.get("sha256")
        return f"the weights file {path} (--pretrained, sha256 {sha})"
    if source == "imagenet":
        named = record.get("name")
        kind = "timm's pretrained weights" if arch.startswith(TIMM_PREFIX) else "ImageNet weights"
        return f"{kind} ({named})" if named else kind
    return "random weights"


def run_provenance(run_dir: str | Path, config: RunConfig | None = None) -> Provenance:
    """The provenance of the run in ``run_dir`` (``config``: its config, when already read)."""
    config = config or read_run_config(run_dir)
    return provenance(config, None if config.trained_on else _split_rows(Path(run_dir)))


def _split_rows(run_dir: Path) -> int | None:
    path = run_dir / SPLIT_FILE
    if not path.is_file():
        return None
    with open(path, encoding="utf-8") as f:
        return max(sum(1 for _ in f) - 1, 0)
