"""Which digits the network confuses, and which it determines worst.

Everything here starts from the confusion matrix C (10, 10) of the test split, rows = true digit,
columns = predicted digit (:func:`digitlab.metrics.confusion_matrix`). From it:

* per digit: accuracy (= recall, the share of that digit's images answered correctly) and
  precision (the share of answers "d" that were right);
* the worst and best determined digit (lowest / highest per-digit accuracy);
* confused pairs true → predicted, most frequent first, with the share of that digit's images;
* the same pairs counted either way ({4, 9}: 4 → 9 plus 9 → 4), since similar shapes tend to be
  confused in both directions;
* mistakes counted by true digit and by predicted digit.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from digitlab import metrics
from digitlab.formatting import finite_or_none
from digitlab.shapes import N_CLASSES


def per_digit_table(confusion: np.ndarray) -> list[dict[str, Any]]:
    """One row per digit d: images, correct, accuracy (= recall), precision, times predicted."""
    accuracy = metrics.recall(confusion)  # (10,) diag / row sums
    precision = metrics.precision(confusion)  # (10,) diag / column sums
    return [
        {
            "digit": d,
            "count": int(confusion[d].sum()),
            "correct": int(confusion[d, d]),
            "accuracy": finite_or_none(accuracy[d]),
            "recall": finite_or_none(accuracy[d]),
            "precision": finite_or_none(precision[d]),
            "predicted_count": int(confusion[:, d].sum()),
        }
        for d in range(confusion.shape[0])
    ]


def extreme_digit(table: list[dict[str, Any]], key: str, *, lowest: bool) -> dict[str, Any]:
    """The row of ``table`` with the lowest (or highest) ``key``; ties go to the smaller digit.

    Rows whose value is undefined (a digit with no test images, or never predicted) are skipped.
    """
    rows = [row for row in table if row[key] is not None]
    sign = 1 if lowest else -1
    return dict(min(rows, key=lambda row: (sign * row[key], row["digit"])))


def pairs_either_way(confusion: np.ndarray, top: int | None = None) -> list[dict[str, Any]]:
    """Unordered pairs {a, b} by C[a, b] + C[b, a], most frequent first (ties: smaller a, b)."""
    n = confusion.shape[0]
    pairs = [
        {"digits": [a, b], "count": int(confusion[a, b] + confusion[b, a]),
         "a_to_b": int(confusion[a, b]), "b_to_a": int(confusion[b, a])}
        for a in range(n) for b in range(a + 1, n)
        if confusion[a, b] + confusion[b, a] > 0
    ]
    pairs.sort(key=lambda p: (-p["count"], p["digits"]))
    return pairs[:top] if top is not None else pairs


def confusion_analysis(
    labels: np.ndarray, predicted: np.ndarray, n_classes: int = N_CLASSES, top: int = 10
) -> dict[str, Any]:
    """The confusion part of ``analysis.json`` from true labels (N,) and predicted digits (N,).

    Keys: ``accuracy``, ``n_test``, ``n_mistakes``, ``confusion_matrix`` (counts, rows = true),
    ``confusion_shares`` (each row divided by its total), ``per_digit``, ``worst_digit``,
    ``best_digit``, ``lowest_precision_digit``, ``confused_pairs`` (top ``top``, true →
    predicted), ``confused_pairs_either_way`` (top ``top``), ``mistakes_by_true_digit`` and
    ``mistakes_by_predicted_digit`` (10 counts each).
    """
    confusion = metrics.confusion_matrix(labels, predicted, n_classes)  # (10, 10)
    table = per_digit_table(confusion)
    wrong = confusion - np.diag(np.diag(confusion))  # off-diagonal counts only
    return {
        "accuracy": finite_or_none(metrics.accuracy(confusion)),
        "n_test": int(confusion.sum()),
        "n_mistakes": int(wrong.sum()),
        "confusion_matrix": confusion.tolist(),
        "confusion_shares": metrics.normalize_rows(confusion).tolist(),
        "per_digit": table,
        "worst_digit": extreme_digit(table, "accuracy", lowest=True),
        "best_digit": extreme_digit(table, "accuracy", lowest=False),
        "lowest_precision_digit": extreme_digit(table, "precision", lowest=True),
        "confused_pairs": metrics.confused_pairs(confusion, top),
        "confused_pairs_either_way": pairs_either_way(confusion, top),
        "mistakes_by_true_digit": wrong.sum(axis=1).tolist(),
        "mistakes_by_predicted_digit": wrong.sum(axis=0).tolist(),
    }
