"""Class-weighted sampling: rare grades drawn more often, by a chosen amount, under DDP too.

    from retinopathy.data.samplers import make_sampler
    sampler = make_sampler(train_labels, exponent=0.5, seed=0)   # DataLoader(..., sampler=sampler)
    sampler.set_epoch(epoch)                                     # a fresh draw every epoch

Each photo of class c weighs ``(1 / n_c) ** exponent``: 0 draws classes at their natural shares,
1 draws every class equally often, 0.5 halfway on a log scale. The expected share of class c is
``n_c ** (1 - exponent) / sum_k n_k ** (1 - exponent)`` (:func:`expected_shares`).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from shared.distributed import WeightedDistributedSampler


def _counts(labels: Sequence[int]) -> tuple[np.ndarray, np.ndarray]:
    labels = np.asarray(labels, dtype=np.int64)
    if labels.ndim != 1 or len(labels) == 0:
        raise ValueError("labels must be a non-empty 1-D sequence")
    if labels.min() < 0:
        raise ValueError("labels must be non-negative class indices")
    return labels, np.bincount(labels)


def class_weights(labels: Sequence[int], exponent: float) -> np.ndarray:
    """Weight of one photo of each class, indexed by class (0 for absent classes)."""
    if not 0 <= exponent <= 1:
        raise ValueError(f"exponent must be between 0 (natural) and 1 (balanced), not {exponent}")
    _, counts = _counts(labels)
    weights = np.zeros(len(counts))
    present = counts > 0
    weights[present] = (1.0 / counts[present]) ** exponent
    return weights


def sample_weights(labels: Sequence[int], exponent: float) -> np.ndarray:
    """One weight per photo, normalised to sum to 1."""
    labels_arr, _ = _counts(labels)
    w = class_weights(labels, exponent)[labels_arr]
    return w / w.sum()


def expected_shares(labels: Sequence[int], exponent: float) -> np.ndarray:
    """Share of draws each class should get, indexed by class."""
    labels_arr, counts = _counts(labels)
    mass = np.bincount(labels_arr, weights=sample_weights(labels, exponent), minlength=len(counts))
    return mass / mass.sum()


def make_sampler(
    labels: Sequence[int],
    exponent: float = 0.5,
    *,
    num_samples: int | None = None,
    seed: int = 0,
    num_replicas: int | None = None,
    rank: int | None = None,
) -> WeightedDistributedSampler:
    """The engine's DDP-aware weighted sampler over these labels (with replacement).

    ``num_samples`` (default: as many as there are photos) is the total over all ranks.
    """
    return WeightedDistributedSampler(
        sample_weights(labels, exponent).tolist(),
        num_samples=num_samples or len(labels),
        num_replicas=num_replicas,
        rank=rank,
        seed=seed,
    )
