"""TensorBoard event files beside metrics.csv: ``Trainer(..., callbacks=[TensorBoardLog(...)])``.

Each epoch's row goes in as scalars named ``<metric>/<split>`` (``loss/train`` and ``loss/val``
share a chart, as in metrics.csv's curves), and an app's figures (a confusion matrix, graded
photos) as images. Only rank 0 writes. A resumed run purges the events past its checkpoint
first, so the charts show each epoch once. metrics.csv stays the record; this is for reading.

TensorBoard is optional (``pip install 'visionlab[tensorboard]'``); without it the log is a
one-line error before training starts.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from shared.engine.callbacks import Callback
from shared.errors import UserError

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from shared.engine.trainer import Trainer

FOLDER = "tensorboard"  # in the run folder
Figures = Callable[["Trainer"], Mapping[str, "Figure"]]


def scalar_name(key: str) -> str:
    """metrics.csv's column as a TensorBoard tag: ``val_qwk`` -> ``qwk/val``."""
    for split in ("train", "val"):
        if key.startswith(split + "_"):
            return f"{key[len(split) + 1 :]}/{split}"
    return key


def summary_writer_class() -> type:
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:
        raise UserError(
            "--tensorboard needs the tensorboard package: pip install 'visionlab[tensorboard]'"
        ) from None
    return SummaryWriter


class TensorBoardLog(Callback):
    """Scalars of every epoch, and ``figures(trainer)`` (name -> matplotlib figure) with them."""

    def __init__(self, run_dir: str | Path, figures: Figures | None = None) -> None:
        self.folder = Path(run_dir) / FOLDER
        self.figures = figures
        self.writer: Any = None
        self.writer_class = summary_writer_class()  # a missing package fails here, not mid-run

    def on_fit_start(self, trainer: Trainer) -> None:
        if trainer.is_main:
            # purge_step: events logged after the checkpoint (by the killed process) go
            self.writer = self.writer_class(str(self.folder), purge_step=trainer.epoch + 1)

    def on_epoch_end(self, trainer: Trainer, epoch: int, row: dict[str, Any]) -> None:
        if self.writer is None:
            return
        step = epoch + 1
        for key, value in row.items():
            if key not in ("epoch", "time") and isinstance(value, (int, float)):
                self.writer.add_scalar(scalar_name(key), value, step)
        if self.figures is not None:
            import matplotlib.pyplot as plt

            for name, figure in self.figures(trainer).items():
                self.writer.add_figure(name, figure, step)  # closes it
            plt.close("all")
        self.writer.flush()

    def on_fit_end(self, trainer: Trainer, rows: list[dict[str, Any]]) -> None:
        if self.writer is not None:
            self.writer.close()
            self.writer = None
