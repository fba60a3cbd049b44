"""Where the project keeps what it can rebuild: ``$XDG_CACHE_HOME/visionlab`` (else
``~/.cache/visionlab``): prepared photos, drawn sample sets, the precision checks' verdicts."""

from __future__ import annotations

import os
from pathlib import Path


def cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base).expanduser() / "visionlab"
