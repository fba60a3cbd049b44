"""The grader's output layer and what its numbers mean: three heads for one ordinal grade.

DR grades are ordered (0 none < 1 mild < ... < 4 proliferative), and the three heads use that
order to different degrees:

- ``classify`` (the default): K logits, softmax, cross-entropy (or focal loss), optional class
  weights. The order is only in the metric (QWK), not in the loss.
- ``regress``: one output, the grade as a number, mean squared error or SmoothL1 (Huber with
  delta 1): with MSE a grade-4 eye called 0 costs 16 times a grade-1 eye called 0. This is what
  the Kaggle 2015 winners did, with the cut points between grades tuned for kappa afterwards
  (:mod:`retinopathy.thresholds`).
- ``ordinal``: CORAL (Cao, Mirjalili & Raschka, "Rank consistent ordinal regression for neural
  networks with application to age estimation", Pattern Recognition Letters 140, 2020). The
  backbone gives one number ``f(x)`` and the head adds K-1 learnt biases, ``logit_k = f(x) +
  b_k`` for the K-1 questions "grade > k", each a binary cross-entropy. Sharing ``f`` across the
  questions makes the cumulative probabilities non-increasing in ``k`` (rank consistent)
  whenever the biases are ordered, which the paper proves for the optimum; the biases start
  ordered, and the mapping below enforces the order anyway.

Every head maps its raw outputs to class probabilities (N, K) and to a continuous score (N,):

========  ===================  ==============================================  ==============
head      raw outputs          class probabilities                             score
========  ===================  ==============================================  ==============
classify  (N, K) logits        softmax                                         sum_k k p_k
regress   (N, 1) value y       softmax_k(-(y - k)^2 / (2 sigma^2)), sigma 0.5  y
ordinal   (N, K-1) logits      c_k = sigmoid, running minimum over k;          sum_k c_k
                               p_0 = 1 - c_0, p_k = c_{k-1} - c_k, p_K-1 = c_K-2
========  ===================  ==============================================  ==============

The regression's probabilities are a Gaussian kernel around the value (:data:`REGRESS_SIGMA`):
their argmax is the nearest grade, so argmax and the default cut points (the midpoints k + 0.5)
agree; and P(grade >= j) rises strictly with ``y``, so a ROC curve of the referable score ranks
photos exactly as ``y`` does (in float32 too, through
:func:`retinopathy.operating_points.referable_score`). A triangular kernel, splitting the mass
between the two nearest grades, would keep the expected grade equal to ``y`` but make
P(grade >= 2) flat 0 below 1 and flat 1 above 2, and the referable ROC curve a few steps. The
ordinal score, the sum of the cumulative probabilities, is the expected grade of its
probabilities.

Plugging a head into the pipelines::

    head = make_head("ordinal", num_classes=5)               # or regress, loss="smooth_l1"
    model = head.attach(build_model(arch, head.backbone_outputs, ...))
    criterion = head.criterion(class_weights)                # targets: class indices, as today
    step_fn, eval_fn = head_step(head, criterion), head_eval(head, criterion)
    probs, score = head.probabilities(outputs), head.score(outputs)
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Protocol

import torch
import torch.nn.functional as F
from torch import nn

from retinopathy.losses import LOSS_CHOICES, make_criterion
from retinopathy.thresholds import midpoints
from shared.engine.steps import CriterionOn, split_logits
from shared.errors import UserError

HEAD_CHOICES = ("classify", "regress", "ordinal")
DEFAULT_HEAD = "classify"
HEAD_LOSSES: dict[str, tuple[str, ...]] = {  # the first of each is the head's default
    "classify": LOSS_CHOICES,
    "regress": ("mse", "smooth_l1"),
    "ordinal": ("bce",),
}
REGRESS_SIGMA = 0.5  # in grades: at y = 1.5, grades 1 and 2 share 98% of the probability


class Head(Protocol):
    """What the pipelines need of a head; :func:`make_head` builds one."""

    name: str
    num_classes: int
    loss: str

    @property
    def backbone_outputs(self) -> int: ...

    @property
    def num_outputs(self) -> int: ...

    def attach(self, backbone: nn.Module) -> nn.Module: ...

    def criterion(self, class_weights: Sequence[float] | None = None) -> nn.Module: ...

    def probabilities(self, outputs: torch.Tensor) -> torch.Tensor: ...

    def score(self, outputs: torch.Tensor) -> torch.Tensor: ...

    def predict_classes(
        self, outputs: torch.Tensor, cut_points: Sequence[float] | None = None
    ) -> torch.Tensor: ...


def output_width(head: str, num_classes: int) -> int:
    """Width of a head's raw output: K (classify), 1 (regress), K-1 (ordinal)."""
    return {"classify": num_classes, "regress": 1, "ordinal": num_classes - 1}[_check(head)]


def make_head(head: str, num_classes: int, loss: str | None = None) -> Head:
    """The head ``head`` for ``num_classes`` classes; ``loss`` None is the head's default."""
    loss = HEAD_LOSSES[_check(head)][0] if loss is None else loss
    if loss not in HEAD_LOSSES[head]:
        raise UserError(
            f"the {head} head trains with loss {' or '.join(HEAD_LOSSES[head])}, not {loss!r}"
        )
    if num_classes < 2:
        raise ValueError(f"a head needs at least 2 classes, got {num_classes}")
    kinds = {"classify": ClassifyHead, "regress": RegressHead, "ordinal": OrdinalHead}
    return kinds[head](num_classes, loss)


def _check(head: str) -> str:
    if head not in HEAD_CHOICES:
        raise UserError(f"head must be one of {', '.join(HEAD_CHOICES)}, not {head!r}")
    return head


@dataclass(frozen=True)
class _ScoredHead:
    """What the three heads share: predicted classes are the score cut at K-1 points."""

    num_classes: int
    loss: str
    name: ClassVar[str] = ""

    @property
    def backbone_outputs(self) -> int:
        return 1

    @property
    def num_outputs(self) -> int:
        return output_width(self.name, self.num_classes)

    def attach(self, backbone: nn.Module) -> nn.Module:
        return backbone

    def predict_classes(
        self, outputs: torch.Tensor, cut_points: Sequence[float] | None = None
    ) -> torch.Tensor:
        """The class of each photo: its score cut at ``cut_points`` (default: the midpoints)."""
        cuts = midpoints(self.num_classes) if cut_points is None else cut_points
        score = self.score(outputs)
        return torch.bucketize(score, torch.as_tensor(cuts, dtype=score.dtype), right=True)


@dataclass(frozen=True)
class ClassifyHead(_ScoredHead):
    name: ClassVar[str] = "classify"

    @property
    def backbone_outputs(self) -> int:
        return self.num_classes

    def criterion(self, class_weights: Sequence[float] | None = None) -> nn.Module:
        return make_criterion(self.loss, class_weights)

    def probabilities(self, outputs: torch.Tensor) -> torch.Tensor:
        return outputs.float().softmax(1)

    def score(self, outputs: torch.Tensor) -> torch.Tensor:
        """The expected grade under the softmax."""
        return expected_class(self.probabilities(outputs))

    def predict_classes(
        self, outputs: torch.Tensor, cut_points: Sequence[float] | None = None
    ) -> torch.Tensor:
        """Argmax, as today; with ``cut_points``, the expected grade cut at them."""
        if cut_points is None:
            return outputs.argmax(1)
        return super().predict_classes(outputs, cut_points)


@dataclass(frozen=True)
class RegressHead(_ScoredHead):
    name: ClassVar[str] = "regress"

    def criterion(self, class_weights: Sequence[float] | None = None) -> nn.Module:
        return GradeRegressionLoss(self.loss, _weights(class_weights))

    def probabilities(self, outputs: torch.Tensor) -> torch.Tensor:
        """The Gaussian kernel around the value (see the module's docstring)."""
        grades = torch.arange(self.num_classes, dtype=torch.float, device=outputs.device)
        distance = self.score(outputs)[:, None] - grades[None, :]
        return (-(distance**2) / (2 * REGRESS_SIGMA**2)).softmax(1)

    def score(self, outputs: torch.Tensor) -> torch.Tensor:
        return outputs.float().reshape(len(outputs), -1)[:, 0]


@dataclass(frozen=True)
class OrdinalHead(_ScoredHead):
    name: ClassVar[str] = "ordinal"

    def attach(self, backbone: nn.Module) -> nn.Module:
        return CumulativeLogits(backbone, self.num_classes)

    def criterion(self, class_weights: Sequence[float] | None = None) -> nn.Module:
        return CumulativeBCE(self.num_classes, _weights(class_weights))

    def cumulative(self, outputs: torch.Tensor) -> torch.Tensor:
        """P(grade > k) for k = 0..K-2, made non-increasing in k by a running minimum."""
        return torch.cummin(torch.sigmoid(outputs.float()), dim=1).values

    def probabilities(self, outputs: torch.Tensor) -> torch.Tensor:
        c = self.cumulative(outputs)
        ones, zeros = torch.ones_like(c[:, :1]), torch.zeros_like(c[:, :1])
        return torch.cat([ones, c], 1) - torch.cat([c, zeros], 1)

    def score(self, outputs: torch.Tensor) -> torch.Tensor:
        """Sum of the cumulative probabilities: the expected grade of :meth:`probabilities`."""
        return self.cumulative(outputs).sum(1)


def expected_class(probs: torch.Tensor) -> torch.Tensor:
    """``sum_k k * p_k`` per row: the expected grade under class probabilities (N, K)."""
    grades = torch.arange(probs.shape[1], dtype=probs.dtype, device=probs.device)
    return probs @ grades


class CumulativeLogits(nn.Module):
    """CORAL's output layer: ``f(x) + b_k`` for k = 0..K-2, with ``f`` the backbone's one output.

    Inception v3's ``(logits, aux)`` pair while training gets the same biases on both.
    """

    def __init__(self, backbone: nn.Module, num_classes: int) -> None:
        super().__init__()
        self.backbone = backbone
        # ordered from the start (b_0 > b_1 > ...), so the questions begin rank consistent
        self.biases = nn.Parameter(torch.linspace(0.5, -0.5, num_classes - 1))

    def forward(self, images: torch.Tensor) -> Any:
        out = self.backbone(images)
        if isinstance(out, (tuple, list)):
            return tuple(None if o is None else self._logits(o) for o in out)
        return self._logits(out)

    def _logits(self, f: torch.Tensor) -> torch.Tensor:
        return f[:, :1] + self.biases


def _weights(class_weights: Sequence[float] | None) -> torch.Tensor | None:
    return None if class_weights is None else torch.as_tensor(class_weights, dtype=torch.float)


class _PerPhotoLoss(nn.Module):
    """A per-photo loss averaged with class weights ``w[target]`` (weighted CE's convention)."""

    def __init__(self, weight: torch.Tensor | None = None) -> None:
        super().__init__()
        self.register_buffer("weight", weight)

    def reduce(self, per_photo: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        if self.weight is None:
            return per_photo.mean()
        w = self.weight[target]
        return (w * per_photo).sum() / w.sum()


class GradeRegressionLoss(_PerPhotoLoss):
    """MSE or SmoothL1 between the regressed value and the class index as a number."""

    def __init__(self, kind: str = "mse", weight: torch.Tensor | None = None) -> None:
        super().__init__(weight)
        self.distance = {"mse": F.mse_loss, "smooth_l1": F.smooth_l1_loss}[kind]

    def forward(self, outputs: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        value = outputs.float().reshape(len(outputs), -1)[:, 0]
        return self.reduce(self.distance(value, target.float(), reduction="none"), target)


class CumulativeBCE(_PerPhotoLoss):
    """CORAL's loss: binary cross-entropy of each "grade > k" question, summed over k."""

    def __init__(self, num_classes: int, weight: torch.Tensor | None = None) -> None:
        super().__init__(weight)
        self.register_buffer("levels", torch.arange(num_classes - 1))

    def forward(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        answers = (target[:, None] > self.levels[None, :]).float()
        bce = F.binary_cross_entropy_with_logits(logits.float(), answers, reduction="none")
        return self.reduce(bce.sum(1), target)


def head_step(
    head: Head, criterion: nn.Module, aux_weight: float = 0.4
) -> Callable[[nn.Module, Any], tuple[torch.Tensor, dict[str, Any]]]:
    """The engine's ``step_fn`` for any head: ``criterion(out) + aux_weight * criterion(aux)``,
    with the batch accuracy of the head's own predicted classes (default cut points)."""
    on_device = CriterionOn(criterion)

    def step(model: nn.Module, batch: Any) -> tuple[torch.Tensor, dict[str, Any]]:
        images, targets = batch[0], batch[1]
        out, aux = split_logits(model(images))
        crit = on_device(out.device)
        loss = crit(out, targets)
        if aux is not None:
            loss = loss + aux_weight * crit(aux, targets)
        right = head.predict_classes(out.detach()) == targets
        return loss, {"acc": right.float().mean()}

    return step


def head_eval(
    head: Head, criterion: nn.Module
) -> Callable[[nn.Module, Any], tuple[torch.Tensor, torch.Tensor, torch.Tensor]]:
    """The engine's ``eval_fn`` for any head: ``(loss, raw outputs, labels)``."""
    on_device = CriterionOn(criterion)

    def evaluate_batch(model: nn.Module, batch: Any):
        images, targets = batch[0], batch[1]
        out, _ = split_logits(model(images))
        return on_device(out.device)(out, targets), out, targets

    return evaluate_batch
