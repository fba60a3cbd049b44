"""The three heads: output widths, losses against hand computation, the mappings to class
probabilities and scores, and each head learning a toy ordinal problem through the engine's
step and evaluation hooks."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from retinopathy.heads import (
    DEFAULT_HEAD,
    HEAD_CHOICES,
    REGRESS_SIGMA,
    CumulativeLogits,
    head_eval,
    head_step,
    make_head,
    output_width,
)
from retinopathy.models import build_model
from retinopathy.operating_points import referable_score
from retinopathy.tasks import get_task
from shared.engine.evaluate import evaluate
from shared.errors import UserError


def test_choices_default_and_widths() -> None:
    assert HEAD_CHOICES == ("classify", "regress", "ordinal") and DEFAULT_HEAD == "classify"
    assert [output_width(h, 5) for h in HEAD_CHOICES] == [5, 1, 4]
    assert [output_width(h, 3) for h in HEAD_CHOICES] == [3, 1, 2]
    assert [make_head(h, 5).backbone_outputs for h in HEAD_CHOICES] == [5, 1, 1]
    assert [make_head(h, 5).num_outputs for h in HEAD_CHOICES] == [5, 1, 4]
    assert [make_head(h, 5).loss for h in HEAD_CHOICES] == ["ce", "mse", "bce"]


@pytest.mark.parametrize(
    ("head", "loss", "message"),
    [
        ("softmax", None, "head must be one of classify, regress, ordinal, not 'softmax'"),
        ("regress", "ce", "the regress head trains with loss mse or smooth_l1, not 'ce'"),
        ("ordinal", "mse", "the ordinal head trains with loss bce, not 'mse'"),
    ],
)
def test_a_bad_head_or_loss_is_a_one_line_error(head: str, loss: str | None, message) -> None:
    with pytest.raises(UserError) as err:
        make_head(head, 5, loss)
    assert str(err.value) == message


def test_classify_is_todays_softmax_and_cross_entropy() -> None:
    head = make_head("classify", 3)
    logits = torch.tensor([[2.0, 0.0, -1.0], [0.0, 0.0, 3.0]])
    target = torch.tensor([0, 2])
    probs = head.probabilities(logits)
    assert torch.allclose(probs, logits.softmax(1))
    assert torch.allclose(head.score(logits), probs @ torch.tensor([0.0, 1.0, 2.0]))
    weights = [1.0, 2.0, 3.0]
    expected = F.cross_entropy(logits, target, weight=torch.tensor(weights))
    assert torch.allclose(head.criterion(weights)(logits, target), expected)
    assert head.predict_classes(logits).tolist() == [0, 2]
    assert make_head("classify", 3, "focal").criterion()(logits, target) < expected


def test_regress_losses_and_class_weights() -> None:
    value = torch.tensor([[0.5], [2.0], [4.0]])
    target = torch.tensor([0, 1, 4])
    mse = make_head("regress", 5).criterion()
    assert mse(value, target).item() == pytest.approx((0.25 + 1 + 0) / 3)
    smooth = make_head("regress", 5, "smooth_l1").criterion()
    assert smooth(value, target).item() == pytest.approx((0.125 + 0.5 + 0) / 3)
    weighted = make_head("regress", 5).criterion([1.0, 3.0, 1.0, 1.0, 1.0])
    # weighted mean, weights w[target] = 1, 3, 1: as weighted cross-entropy averages
    assert weighted(value, target).item() == pytest.approx((0.25 + 3 * 1 + 0) / 5)


def test_regress_probabilities_are_a_kernel_around_the_value() -> None:
    head = make_head("regress", 5)
    y = torch.linspace(-1, 5, 121)[:, None] + 0.013  # off the midpoints, where ties split
    probs = head.probabilities(y)
    assert torch.allclose(probs.sum(1), torch.ones(len(y)))
    # argmax is the nearest grade: the same classes as the default cut points
    assert torch.equal(probs.argmax(1), head.predict_classes(y))
    assert torch.equal(head.predict_classes(y), y[:, 0].round().clamp(0, 4).long())
    # P(grade >= 2) rises strictly with the value: the referable ROC ranks as y does
    referable = referable_score(probs.numpy(), get_task("grade5"))
    assert (np.diff(referable) > 0).all()
    at = head.probabilities(torch.tensor([[1.5]]))[0]
    assert (at[1] + at[2]).item() == pytest.approx(0.98, abs=0.005)
    assert REGRESS_SIGMA == 0.5
    assert torch.equal(head.score(y), y[:, 0])


def test_ordinal_loss_is_the_sum_of_binary_cross_entropies() -> None:
    head = make_head("ordinal", 4)
    logits = torch.tensor([[2.0, 0.5, -1.0]])
    # grade 2: "grade > 0" yes, "> 1" yes, "> 2" no
    expected = sum(
        F.binary_cross_entropy_with_logits(torch.tensor(x), torch.tensor(t))
        for x, t in [(2.0, 1.0), (0.5, 1.0), (-1.0, 0.0)]
    )
    assert head.criterion()(logits, torch.tensor([2])).item() == pytest.approx(expected.item())


def test_ordinal_probabilities_respect_the_order_even_from_unordered_logits() -> None:
    head = make_head("ordinal", 5)
    logits = torch.tensor([[3.0, 1.0, -1.0, -3.0], [0.0, 2.0, -2.0, 1.0]])
    probs = head.probabilities(logits)
    assert (probs >= 0).all() and torch.allclose(probs.sum(1), torch.ones(2))
    c = torch.sigmoid(logits[0])
    assert torch.allclose(probs[0], torch.cat([1 - c[:1], c[:-1] - c[1:], c[-1:]]))
    assert torch.allclose(head.score(logits), probs @ torch.arange(5.0))  # expected grade
    assert head.score(logits)[0].item() == pytest.approx(c.sum().item())


def test_cumulative_logits_share_one_output_and_pass_inceptions_pair() -> None:
    wrapped = CumulativeLogits(nn.Linear(3, 1), 5)
    out = wrapped(torch.randn(2, 3))
    assert out.shape == (2, 4)
    assert (out[:, :-1] > out[:, 1:]).all()  # ordered biases: decreasing in k from the start
    pair = CumulativeLogits(_Pair(), 5)(torch.randn(2, 3))
    assert isinstance(pair, tuple) and [o.shape for o in pair] == [(2, 4), (2, 4)]


class _Pair(nn.Module):
    def forward(self, x: torch.Tensor):
        return x[:, :1], x[:, 1:2]


@pytest.mark.parametrize("name", HEAD_CHOICES)
def test_each_head_fits_a_registry_backbone(name: str) -> None:
    head = make_head(name, 5)
    model = head.attach(build_model("resnet18", head.backbone_outputs))
    images, target = torch.randn(4, 3, 32, 32), torch.tensor([0, 1, 2, 4])
    loss, logs = head_step(head, head.criterion())(model, (images, target))
    loss.backward()
    assert torch.isfinite(loss) and 0 <= float(logs["acc"]) <= 1
    out = model.eval()(images)
    assert out.shape == (4, head.num_outputs)
    assert head.probabilities(out).shape == (4, 5) and head.score(out).shape == (4,)


def _toy(n: int = 400, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """A grade and a noisy 2-d reading of it."""
    g = torch.Generator().manual_seed(seed)
    grade = torch.randint(0, 5, (n,), generator=g)
    x = torch.stack([grade.float(), -grade.float()], 1) + 0.3 * torch.randn(n, 2, generator=g)
    return x, grade


@pytest.mark.parametrize("name", HEAD_CHOICES)
def test_each_head_learns_an_ordinal_toy_problem_through_the_engine_hooks(name: str) -> None:
    torch.manual_seed(0)
    head = make_head(name, 5)
    model = head.attach(
        nn.Sequential(nn.Linear(2, 16), nn.ReLU(), nn.Linear(16, head.backbone_outputs))
    )
    criterion = head.criterion()
    step = head_step(head, criterion)
    x, y = _toy()
    opt = torch.optim.Adam(model.parameters(), lr=0.03)
    for _ in range(300):
        opt.zero_grad()
        step(model, (x, y))[0].backward()
        opt.step()
    x_val, y_val = _toy(seed=1)
    loader = [(x_val[i : i + 100], y_val[i : i + 100]) for i in range(0, 400, 100)]

    def metrics(outputs: torch.Tensor, targets: torch.Tensor) -> dict[str, float]:
        right = head.predict_classes(outputs) == targets
        return {"acc": right.float().mean().item(), "n": float(len(outputs))}

    result = evaluate(model, loader, eval_fn=head_eval(head, criterion), metrics_fn=metrics,
                      device=torch.device("cpu"))  # fmt: skip
    assert result["n"] == 400 and np.isfinite(result["loss"])
    assert result["acc"] > 0.85
