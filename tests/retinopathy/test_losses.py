"""Training criteria: weighted cross-entropy, focal loss, Inception's auxiliary logits."""

from __future__ import annotations

import pytest
import torch

from retinopathy.losses import make_criterion
from shared import backbones
from shared.engine import classification_step


def test_inception_aux_logits_count_point_four_in_training_only() -> None:
    """The app's training step on a real Inception v3: CE(logits) + 0.4 * CE(aux)."""
    model = backbones.create("inception_v3", num_classes=3).train()
    seen = []
    model.register_forward_hook(lambda m, i, out: seen.append(out))
    criterion = make_criterion("ce")
    images, target = torch.randn(2, 3, 96, 96), torch.tensor([0, 2])
    loss, _ = classification_step(criterion)(model, (images, target))
    logits, aux = seen[0]
    expected = criterion(logits, target) + 0.4 * criterion(aux, target)
    assert loss.item() == pytest.approx(expected.item(), rel=1e-6)
    assert abs(loss.item() - criterion(logits, target).item()) > 1e-4  # aux really counted
    model.eval()
    with torch.no_grad():
        assert isinstance(model(images), torch.Tensor)  # no aux head at evaluation


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


def test_label_smoothing_mixes_a_uniform_target_into_each_one() -> None:
    logits = torch.tensor([[2.0, 0.0, -1.0, 0.5, 0.0]])
    target = torch.tensor([1])
    eps, k = 0.1, 5
    log_p = logits.log_softmax(1)[0]
    by_hand = -((1 - eps) * log_p[1] + eps / k * log_p.sum())
    assert make_criterion("ce", label_smoothing=eps)(logits, target) == pytest.approx(
        by_hand.item(), rel=1e-6
    )
    with pytest.raises(ValueError, match="needs the ce loss"):
        make_criterion("focal", label_smoothing=eps)
