"""Classification metrics from true and predicted digits.

All functions take integer arrays of shape (N,) with values in 0..n_classes-1. The confusion
matrix has rows = true digit and columns = predicted digit.
"""

from __future__ import annotations

import numpy as np


def confusion_matrix(true: np.ndarray, predicted: np.ndarray, n_classes: int = 10) -> np.ndarray:
    """Counts C (n_classes, n_classes) with C[i, j] = number of digits i predicted as j."""
    true, predicted = np.asarray(true), np.asarray(predicted)
    if true.shape != predicted.shape:
        raise ValueError(f"true {true.shape} and predicted {predicted.shape} differ in shape")
    flat = true.astype(np.int64) * n_classes + predicted.astype(np.int64)
    return np.bincount(flat, minlength=n_classes * n_classes).reshape(n_classes, n_classes)


def accuracy(confusion: np.ndarray) -> float:
    """Share of correct answers: trace / total (NaN for an empty matrix)."""
    total = confusion.sum()
    return float(np.trace(confusion) / total) if total else float("nan")


def recall(confusion: np.ndarray) -> np.ndarray:
    """Per true digit: the share of its images answered correctly (per-digit accuracy), (n,)."""
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.diag(confusion) / confusion.sum(axis=1)


def precision(confusion: np.ndarray) -> np.ndarray:
    """Per predicted digit: the share of its answers that were right, (n,)."""
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.diag(confusion) / confusion.sum(axis=0)


def normalize_rows(confusion: np.ndarray) -> np.ndarray:
    """Each row divided by its total: shares per true digit (rows of zeros stay zero)."""
    totals = confusion.sum(axis=1, keepdims=True)
    return np.divide(confusion, totals, out=np.zeros(confusion.shape), where=totals > 0)


def confused_pairs(confusion: np.ndarray, top: int | None = None) -> list[dict]:
    """Off-diagonal cells, most frequent first: dicts with ``true``, ``predicted``, ``count`` and
    ``share`` (of that true digit's images). Ties are broken by (true, predicted) order."""
    totals = confusion.sum(axis=1)
    pairs = [
        {"true": i, "predicted": j, "count": int(confusion[i, j]),
         "share": float(confusion[i, j] / totals[i]) if totals[i] else 0.0}
        for i in range(confusion.shape[0]) for j in range(confusion.shape[1])
        if i != j and confusion[i, j] > 0
    ]
    pairs.sort(key=lambda p: (-p["count"], p["true"], p["predicted"]))
    return pairs[:top] if top is not None else pairs
