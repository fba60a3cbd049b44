"""Class-weighted sampling hits the requested shares, and DDP ranks split one global draw."""

from __future__ import annotations

import numpy as np
import pytest

from retinopathy.data.samplers import class_weights, expected_shares, make_sampler, sample_weights

LABELS = np.repeat(np.arange(5), [730, 70, 150, 25, 20])


@pytest.mark.parametrize("exponent", [0.0, 0.5, 1.0])
def test_sampler_empirical_shares_match(exponent: float) -> None:
    expected = expected_shares(LABELS, exponent)
    closed = np.bincount(LABELS) ** (1 - exponent)  # n_c^(1-e) / sum_k n_k^(1-e)
    np.testing.assert_allclose(expected, closed / closed.sum())
    sampler = make_sampler(LABELS, exponent, num_samples=200_000, seed=0)
    drawn = np.bincount(LABELS[list(sampler)], minlength=5) / 200_000
    np.testing.assert_allclose(drawn, expected, atol=0.005)


def test_sampler_weights_and_ranks() -> None:
    w = class_weights(LABELS, 1.0)
    assert w[0] == pytest.approx(1 / 730) and w[4] == pytest.approx(1 / 20)
    assert sample_weights(LABELS, 0.0) == pytest.approx(np.full(LABELS.size, 1 / LABELS.size))
    ranks = [
        make_sampler(LABELS, 0.5, num_samples=1000, seed=4, num_replicas=2, rank=r) for r in (0, 1)
    ]
    for s in ranks:
        s.set_epoch(3)
    a, b = (list(s) for s in ranks)
    assert len(a) == len(b) == 500
    single = make_sampler(LABELS, 0.5, num_samples=1000, seed=4, num_replicas=1, rank=0)
    single.set_epoch(3)
    merged = [x for pair in zip(a, b, strict=True) for x in pair]
    assert merged == list(single)  # the ranks split one global weighted draw
    with pytest.raises(ValueError, match="exponent"):
        class_weights(LABELS, 1.5)
