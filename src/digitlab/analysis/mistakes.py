"""The misclassified test images, the most confidently wrong first.

A confident mistake (the network answered a wrong digit with a high top probability) is the most
telling kind: looking at those images shows whether a person could have got them wrong too.
"""

from __future__ import annotations

from typing import Any

import numpy as np


def mistakes_by_confidence(
    labels: np.ndarray, predicted: np.ndarray, confidence: np.ndarray
) -> np.ndarray:
    """Indices (M,) of the misclassified images, highest ``confidence`` first (ties: lower index).

    ``labels``, ``predicted``, ``confidence``: (N,) each, the true digit, the answer and the top
    probability of the answer.
    """
    wrong = np.flatnonzero(np.asarray(labels) != np.asarray(predicted))  # ascending indices
    order = np.argsort(-np.asarray(confidence)[wrong], kind="stable")
    return wrong[order]


def pair_examples(
    labels: np.ndarray, predicted: np.ndarray, confidence: np.ndarray,
    true_digit: int, predicted_digit: int, limit: int | None = None,
) -> np.ndarray:
    """Indices of the images of ``true_digit`` answered as ``predicted_digit``, most confident
    first, at most ``limit``."""
    ranked = mistakes_by_confidence(labels, predicted, confidence)
    keep = (labels[ranked] == true_digit) & (predicted[ranked] == predicted_digit)
    return ranked[keep][:limit]


def mistake_summary(
    labels: np.ndarray, predicted: np.ndarray, confidence: np.ndarray,
    second_choice: np.ndarray, top: int = 20,
) -> dict[str, Any]:
    """How sure the network is when it is wrong, and its ``top`` most confident mistakes.

    Keys: ``count``; ``mean_confidence_wrong`` and ``mean_confidence_right`` (mean top
    probability of wrong and of right answers); ``second_choice_right`` (the share of mistakes
    whose second choice was the true digit — near misses); ``most_confident`` (a list of
    ``{index, true, predicted, confidence}``, index into the test split).
    """
    labels, predicted = np.asarray(labels), np.asarray(predicted)
    confidence, second_choice = np.asarray(confidence), np.asarray(second_choice)
    wrong = labels != predicted
    ranked = mistakes_by_confidence(labels, predicted, confidence)
    return {
        "count": int(wrong.sum()),
        "mean_confidence_wrong": _mean(confidence[wrong]),
        "mean_confidence_right": _mean(confidence[~wrong]),
        "second_choice_right": _mean(second_choice[wrong] == labels[wrong]),
        "most_confident": [
            {"index": int(i), "true": int(labels[i]), "predicted": int(predicted[i]),
             "confidence": float(confidence[i])}
            for i in ranked[:top]
        ],
    }


def _mean(values: np.ndarray) -> float | None:
    return float(np.mean(values)) if len(values) else None
