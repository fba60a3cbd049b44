"""What ``train --tensorboard`` shows each epoch beside the scalars: the validation confusion
matrix and a few validation photos titled with their true and predicted grade.

Both come from the outputs the epoch's validation already computed (:class:`ValidationCapture`
keeps them as the metrics are taken), so the log costs no extra forward pass and changes
nothing the run computes.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import torch
from sklearn.metrics import confusion_matrix

from retinopathy.data.dataset import FundusDataset
from retinopathy.tasks import Task
from shared.plotting import confusion_figure, image_grid_figure

PHOTOS = 8  # validation photos shown each epoch, the same ones every epoch

Metrics = Callable[[torch.Tensor, torch.Tensor], dict[str, float]]


def argmax_grades(outputs: torch.Tensor) -> torch.Tensor:
    return outputs.float().argmax(1)


class ValidationCapture:
    """A ``metrics_fn`` that keeps the epoch's validation outputs and targets, then computes
    ``metrics_fn``'s metrics on them."""

    def __init__(self, metrics_fn: Metrics) -> None:
        self.metrics_fn = metrics_fn
        self.outputs: torch.Tensor | None = None
        self.targets: torch.Tensor | None = None

    def __call__(self, outputs: torch.Tensor, targets: torch.Tensor) -> dict[str, float]:
        self.outputs, self.targets = outputs, targets
        return self.metrics_fn(outputs, targets)


def epoch_figures(
    task: Task,
    capture: ValidationCapture,
    val_data: FundusDataset,
    grades_of: Callable[[torch.Tensor], torch.Tensor] = argmax_grades,
) -> Callable[[Any], Mapping[str, Any]]:
    """The figures of the epoch just validated, for ``TensorBoardLog``."""

    def figures(trainer: Any) -> dict[str, Any]:
        if capture.outputs is None or capture.targets is None:
            return {}
        predicted = grades_of(capture.outputs).cpu().numpy()
        truth = capture.targets.cpu().numpy()
        matrix = confusion_matrix(truth, predicted, labels=range(task.num_classes))
        names = list(task.class_names)
        shown = range(min(PHOTOS, len(val_data)))
        return {
            "validation/confusion": confusion_figure(matrix, names, title="validation"),
            "validation/photos": image_grid_figure(
                [val_data.photo(i) for i in shown],
                titles=[f"true {names[truth[i]]}\npredicted {names[predicted[i]]}" for i in shown],
                ncol=4,
                cell_inches=2.2,
            ),
        }

    return figures
