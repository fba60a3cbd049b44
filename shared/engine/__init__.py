"""The training engine both apps stand on: ``Trainer(...).fit()``, exactly resumable after a kill.

    from shared.engine import Trainer, TrainConfig

- :mod:`~shared.engine.config`      ``TrainConfig``, the optimiser and scheduler it names
- :mod:`~shared.engine.steps`       the default classification training and validation steps
- :mod:`~shared.engine.data_order`  data order and per-batch seeds that depend on position only
- :mod:`~shared.engine.evaluate`    the mean loss and the app's metrics over a loader, under DDP
- :mod:`~shared.engine.trainer`     the ``Trainer`` loop, the NaN guard
- :mod:`~shared.engine.callbacks`   the Trainer's hooks, the diverged-loss error
- :mod:`~shared.engine.warmup`      linear warmup of the learning rate, step by step
- :mod:`~shared.engine.ema`         the weights' moving average, evaluated and kept
- :mod:`~shared.engine.meters`      the epoch's running averages of the logged values
- :mod:`~shared.engine.resume`      the trainer's state in and out of ``checkpoints/``
"""

from shared.engine.callbacks import Callback, NonFiniteLossError
from shared.engine.config import (
    OPTIMIZERS,
    SCHEDULERS,
    TrainConfig,
    build_optimizer,
    build_scheduler,
)
from shared.engine.data_order import ResumableSampler, SeededDataset
from shared.engine.evaluate import batch_size_of, evaluate, to_device
from shared.engine.steps import accuracy_metrics, classification_eval, classification_step
from shared.engine.trainer import Trainer

__all__ = [
    "OPTIMIZERS",
    "SCHEDULERS",
    "Callback",
    "NonFiniteLossError",
    "ResumableSampler",
    "SeededDataset",
    "TrainConfig",
    "Trainer",
    "accuracy_metrics",
    "batch_size_of",
    "build_optimizer",
    "build_scheduler",
    "classification_eval",
    "classification_step",
    "evaluate",
    "to_device",
]
