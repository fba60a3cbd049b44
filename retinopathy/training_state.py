"""A finished run's training state: ``checkpoints/last.pt`` is removed when the run ends.

The kept model (``best.pt``: its weights, architecture and counters) is what ``evaluate`` and
``predict`` read; ``last.pt`` is what a resume reads, and holds the optimiser's state besides the
weights (three times the weights under Adam, 0.3 GB for a ResNet-50). Until the run ends it is
kept, so a killed run resumes exactly; after the report is written it goes, unless the run was
trained with ``--keep-last``, which a run that may be continued to more epochs needs.
"""

from __future__ import annotations

from pathlib import Path

from shared.distributed import is_main_process
from shared.errors import UserError
from shared.runs import RunPaths


def prune_training_state(run_dir: Path, keep: bool) -> None:
    """Remove the finished run's ``last.pt`` unless ``keep``; say so, with its size."""
    last = RunPaths(run_dir).last
    if keep or not is_main_process() or not last.is_file() or not RunPaths(run_dir).best.is_file():
        return
    size = last.stat().st_size
    last.unlink()
    print(
        f"removed {last} ({size / 2**20:.0f} MB of training state): the run is finished and "
        "best.pt holds its model (--keep-last keeps it, to continue the run later)",
        flush=True,
    )


def pruned(run_dir: Path) -> bool:
    """Whether the run ended and its training state was removed (best.pt, no last.pt)."""
    paths = RunPaths(run_dir)
    return paths.best.is_file() and not paths.last.is_file() and paths.metrics.is_file()


def refuse_to_continue(run_dir: Path, epochs: int) -> None:
    """A pruned run cannot train on: it has no optimiser state to continue from."""
    raise UserError(
        f"{run_dir} kept no training state to continue from (last.pt is removed when a run "
        f"ends, unless trained with --keep-last): train a new run instead, e.g. "
        f"--config {run_dir} --epochs {epochs}"
    )
