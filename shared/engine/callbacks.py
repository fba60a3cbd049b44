"""The Trainer's hooks (:class:`Callback`) and the error that stops a run whose loss diverged."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from shared.errors import UserError

if TYPE_CHECKING:
    from shared.engine.trainer import Trainer


class NonFiniteLossError(UserError):
    """The loss became NaN or infinite; the run stopped and the last checkpoint was kept."""


class Callback:
    """Base class with every hook as a no-op; subclass and override what you need."""

    def on_fit_start(self, trainer: Trainer) -> None: ...
    def on_epoch_start(self, trainer: Trainer, epoch: int) -> None: ...
    def on_step_end(self, trainer: Trainer, step: int, logs: dict[str, float]) -> None: ...
    def on_epoch_end(self, trainer: Trainer, epoch: int, row: dict[str, Any]) -> None: ...
    def on_fit_end(self, trainer: Trainer, rows: list[dict[str, Any]]) -> None: ...
