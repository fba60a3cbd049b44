"""The published confusion matrices through ``compute_metrics``: the reports' own numbers back.

Each matrix (``published_matrices.py``, transcribed from the source it names) becomes one
prediction per photo; the metrics must give the published accuracy to its printed digits and
per-class precision / recall / F1 within the rounding of two printed decimals.
"""

from __future__ import annotations

import numpy as np
import pytest

from retinopathy.metrics import compute_metrics, kappa_from_confusion
from retinopathy.tasks import get_task
from tests.retinopathy.published_matrices import PUBLISHED, PublishedTable

ROUNDING = 0.005 + 1e-9  # two printed decimals


def _photos(confusion) -> tuple[np.ndarray, np.ndarray]:
    """One (true, predicted) pair per photo counted in the matrix."""
    cm = np.asarray(confusion)
    true, pred = np.indices(cm.shape)
    return np.repeat(true.ravel(), cm.ravel()), np.repeat(pred.ravel(), cm.ravel())


def _metrics(table: PublishedTable) -> dict:
    y_true, y_pred = _photos(table.confusion)
    task = get_task(table.task)
    probs = np.eye(task.num_classes)[y_pred]  # the predicted class certain: argmax is y_pred
    return compute_metrics(y_true, probs, task)


@pytest.mark.parametrize("table", PUBLISHED, ids=lambda t: t.id)
def test_published_matrix_gives_the_published_accuracy_to_the_printed_digits(table) -> None:
    m = _metrics(table)
    assert m["confusion"] == [list(row) for row in table.confusion]
    digits = len(table.accuracy_percent.split(".")[1])
    assert f"{100 * m['accuracy']:.{digits}f}" == table.accuracy_percent


@pytest.mark.parametrize("table", PUBLISHED, ids=lambda t: t.id)
def test_published_matrix_gives_the_published_precision_recall_f1(table) -> None:
    m = _metrics(table)
    never_predicted = np.asarray(table.confusion).sum(axis=0) == 0
    for k in range(len(table.confusion)):
        if never_predicted[k]:
            # the report prints 0/0 as .00; the metrics call it undefined ("n/a")
            assert np.isnan(m["precision"][k]) and table.precision[k] == 0.0
        else:
            assert m["precision"][k] == pytest.approx(table.precision[k], abs=ROUNDING)
    assert m["recall"] == pytest.approx(list(table.recall), abs=ROUNDING)
    assert m["f1"] == pytest.approx(list(table.f1), abs=ROUNDING)


@pytest.mark.parametrize("table", PUBLISHED, ids=lambda t: t.id)
def test_derived_qwk_is_the_kappa_of_the_published_matrix(table) -> None:
    m = _metrics(table)
    assert m["qwk"] == pytest.approx(table.derived_qwk, abs=0.0005)
    assert kappa_from_confusion(np.asarray(table.confusion)) == pytest.approx(m["qwk"])


def test_one_published_table_leaves_a_class_unpredicted() -> None:
    # JK-T4's Inception v3 never says grade 1: the case the n/a precision exists for
    unpredicted = [t.id for t in PUBLISHED if (np.asarray(t.confusion).sum(axis=0) == 0).any()]
    assert unpredicted == ["JK-T4"]
