"""Label mappings 5 -> 3 -> referable, and the losses (Inception's auxiliary path)."""

from __future__ import annotations

import pytest
import torch

from retinopathy.losses import AUX_WEIGHT, classification_loss, make_criterion
from retinopathy.tasks import get_task


def test_grade_mappings() -> None:
    grades = [0, 1, 2, 3, 4]
    assert get_task("grade5").map_grades(grades).tolist() == [0, 1, 2, 3, 4]
    assert get_task("grade3").map_grades(grades).tolist() == [0, 1, 1, 2, 2]
    assert get_task("referable").map_grades(grades).tolist() == [0, 0, 1, 1, 1]
    assert [get_task(t).num_classes for t in ("grade5", "grade3", "referable")] == [5, 3, 2]
    with pytest.raises(ValueError, match="0-4"):
        get_task("grade3").map_grades([5])
    with pytest.raises(ValueError, match="grade5"):
        get_task("grade4")


def test_aux_logits_are_weighted_point_four() -> None:
    criterion = make_criterion("ce")
    logits, aux = torch.randn(4, 3), torch.randn(4, 3)
    target = torch.tensor([0, 1, 2, 1])
    combined = classification_loss(criterion, (logits, aux), target)
    expected = criterion(logits, target) + AUX_WEIGHT * criterion(aux, target)
    assert combined.item() == pytest.approx(expected.item())
    assert classification_loss(criterion, logits, target).item() == pytest.approx(
        criterion(logits, target).item()
    )


def test_class_weights_shift_the_loss_toward_rare_classes() -> None:
    logits = torch.zeros(4, 2)
    logits[:, 0] = 2.0  # confident class 0 everywhere
    target = torch.tensor([0, 0, 0, 1])
    plain = make_criterion("ce")(logits, target)
    weighted = make_criterion("ce", [1.0, 3.0])(logits, target)
    assert weighted > plain  # the one miss (rare class 1) now counts three times


def test_focal_loss_down_weights_easy_examples() -> None:
    target = torch.tensor([0, 0])
    easy = torch.tensor([[4.0, -4.0], [4.0, -4.0]])
    hard = torch.tensor([[0.1, 0.0], [0.1, 0.0]])
    ce, focal = make_criterion("ce"), make_criterion("focal")
    assert focal(easy, target) / ce(easy, target) < focal(hard, target) / ce(hard, target)
    assert focal(hard, target) < ce(hard, target)
