"""Telling real digits from images that are not digits, by scores of the network's answer.

A score s(x) is high for inputs that look like the training data (in-distribution). Two are
used, both read off one forward pass (:mod:`digitlab.analysis.responses`):

* the top probability max_k p_k (the baseline of Hendrycks & Gimpel, 2017);
* the negative energy −E(x) = logsumexp_k z_k of the output pre-activations (Liu et al., 2020).

The output margin (top − second output) is reported as a third score.

A fourth looks inside the network instead of at its answer: the Mahalanobis score of a hidden
layer's activations (:mod:`digitlab.mahalanobis`).

How well a score separates real test digits (positives) from a kind of non-digit (negatives) is
measured by the area under the ROC curve, computed exactly with the Mann–Whitney rank formula

    AUROC = (R₊ − n₊(n₊ + 1)/2) / (n₊ n₋),

R₊ the sum of the positives' ranks among all scores, tied scores sharing their average rank.
AUROC is the probability that a random real digit scores higher than a random non-digit (ties
count one half): 1 = perfectly separated, 0.5 = no better than chance, 0 = exactly inverted.
"""

from __future__ import annotations

import numpy as np

from digitlab.shapes import N_CLASSES


def average_ranks(values: np.ndarray) -> np.ndarray:
    """Ranks 1..N of ``values`` (N,), tied values all getting the mean of their ranks."""
    values = np.asarray(values, dtype=np.float64)
    order = np.argsort(values, kind="stable")
    sorted_values = values[order]
    # start of each run of equal values in sorted order
    starts = np.flatnonzero(np.r_[True, sorted_values[1:] != sorted_values[:-1]])
    ends = np.r_[starts[1:], len(values)]  # one past each run's end
    run_ranks = (starts + 1 + ends) / 2.0  # mean of ranks starts+1 .. ends
    ranks = np.empty(len(values))
    ranks[order] = np.repeat(run_ranks, ends - starts)
    return ranks


def auroc(positive_scores: np.ndarray, negative_scores: np.ndarray) -> float:
    """Area under the ROC curve for "positive scores higher" (NaN if either set is empty)."""
    positive = np.asarray(positive_scores, dtype=np.float64).ravel()
    negative = np.asarray(negative_scores, dtype=np.float64).ravel()
    n_pos, n_neg = len(positive), len(negative)
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    ranks = average_ranks(np.concatenate([positive, negative]))
    rank_sum = ranks[:n_pos].sum()
    return float((rank_sum - n_pos * (n_pos + 1) / 2.0) / (n_pos * n_neg))


#: score name -> how to read it off Responses, oriented so that higher = more digit-like.
SCORES = {
    "max_probability": lambda r: r.confidence,
    "energy": lambda r: -r.energy,
    "margin": lambda r: r.margin,
}

#: a "confident" answer has a top probability at least this high.
CONFIDENT = 0.9
#: top two outputs closer than this count as a tie (e.g. a black image into a net without bias).
TIE = 1e-6


def summarize_answers(responses, n_classes: int = N_CLASSES) -> dict:
    """What the network answered to a set of images: ``n``, ``predicted_counts`` (10),
    ``predicted_shares`` (10), ``most_predicted_digit`` and its ``most_predicted_share``,
    ``mean_top_probability``, ``share_confident`` (top probability >= :data:`CONFIDENT`),
    ``mean_margin`` (top − second output), ``share_tied`` (top two outputs equal within
    :data:`TIE`: no real answer, argmax just takes the first) and ``mean_energy``."""
    n = len(responses.outputs)
    counts = np.bincount(responses.predicted, minlength=n_classes)  # (10,)
    most = int(counts.argmax())
    return {
        "n": n,
        "predicted_counts": counts.tolist(),
        "predicted_shares": (counts / max(n, 1)).tolist(),
        "most_predicted_digit": most,
        "most_predicted_share": float(counts[most] / max(n, 1)),
        "mean_top_probability": float(responses.confidence.mean()),
        "share_confident": float((responses.confidence >= CONFIDENT).mean()),
        "mean_margin": float(responses.margin.mean()),
        "share_tied": float((responses.margin <= TIE).mean()),
        "mean_energy": float(responses.energy.mean()),
    }


def separation(real, other) -> dict:
    """AUROC of every score in :data:`SCORES` for real digits (positives) against ``other``
    images (negatives); ``auroc`` is the top probability's, ``auroc_energy`` the energy's,
    ``auroc_margin`` the margin's."""
    values = {name: auroc(score(real), score(other)) for name, score in SCORES.items()}
    return {"auroc": values["max_probability"], "auroc_energy": values["energy"],
            "auroc_margin": values["margin"]}
