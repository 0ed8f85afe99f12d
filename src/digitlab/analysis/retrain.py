"""How much the results change between retrainings of the same configuration.

The same config is trained again with K other seeds (``config.replace(seed=s)``) on the *same*
dataset object, so the training and test splits stay fixed and only what the seed drives inside
training changes: the initial weights and the order of the samples. Each retrained network is
evaluated on the test split like the analysed one; the spread of accuracy, of the mistakes per
digit and of the top confusions shows which findings are properties of the task and which are
accidents of one run.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from digitlab import metrics
from digitlab.analysis.confusion import extreme_digit, per_digit_table
from digitlab.config import TrainConfig
from digitlab.errors import TrainingDiverged


def retraining_seeds(start: int, count: int, exclude: int | None = None) -> list[int]:
    """``count`` seeds start + 1, start + 2, ..., skipping ``exclude`` (the analysed run's)."""
    seeds, candidate = [], start
    while len(seeds) < count:
        candidate += 1
        if candidate != exclude:
            seeds.append(candidate)
    return seeds


def retrain_variance(
    config: TrainConfig, dataset: Any, seeds: list[int], *, epochs: int | None = None,
    progress: bool = True, top: int = 3,
) -> dict[str, Any]:
    """Retrain ``config`` once per seed and summarise how the test results vary.

    Returns a dict with ``seeds`` (those that finished), ``diverged`` (seeds whose training
    diverged), ``epochs``, ``accuracies`` (K,), ``accuracy_mean``, ``accuracy_std`` (sample
    standard deviation, ddof = 1; 0 for one run), ``accuracy_min``, ``accuracy_max``,
    ``mistakes_by_digit`` (K lists of 10 counts, by true digit), ``worst_digits`` (K),
    ``worst_digit_counts`` (10: in how many runs each digit was the worst), ``top``,
    ``top_confusions`` (K lists of the ``top`` pairs of :func:`digitlab.metrics.confused_pairs`),
    ``recurring_confusions`` (every pair in some run's top list: ``true``, ``predicted``,
    ``runs`` it was in the top list, ``mean_count`` over all runs), ``confusion_matrices``.
    """
    from tqdm.auto import tqdm

    from digitlab.training import train

    epochs = epochs or config.epochs
    test = dataset.test
    finished, diverged, matrices = [], [], []
    for seed in tqdm(seeds, desc="retraining", unit="run", disable=not progress):
        try:
            result = train(config.replace(seed=seed, epochs=epochs), dataset, progress=progress)
        except TrainingDiverged:
            diverged.append(seed)
            continue
        predicted = result.network.classify(test.images)
        matrices.append(metrics.confusion_matrix(test.labels, predicted))
        finished.append(seed)
    summary = summarize_runs(matrices, top)
    return {"seeds": finished, "diverged": diverged, "epochs": epochs, "top": top, **summary}


def summarize_runs(matrices: list[np.ndarray], top: int = 3) -> dict[str, Any]:
    """Accuracy spread, per-digit mistakes and top confusions of K confusion matrices (10, 10)."""
    accuracies = np.array([metrics.accuracy(c) for c in matrices])  # (K,)
    mistakes = [(c.sum(axis=1) - np.diag(c)).tolist() for c in matrices]  # K × 10
    worst = [extreme_digit(per_digit_table(c), "accuracy", lowest=True)["digit"]
             for c in matrices]
    tops = [metrics.confused_pairs(c, top) for c in matrices]
    return {
        "accuracies": accuracies.tolist(),
        "accuracy_mean": float(accuracies.mean()) if len(matrices) else None,
        "accuracy_std": float(accuracies.std(ddof=1)) if len(matrices) > 1 else 0.0,
        "accuracy_min": float(accuracies.min()) if len(matrices) else None,
        "accuracy_max": float(accuracies.max()) if len(matrices) else None,
        "mistakes_by_digit": mistakes,
        "worst_digits": worst,
        "worst_digit_counts": np.bincount(worst, minlength=10).tolist(),
        "top_confusions": tops,
        "recurring_confusions": recurring_confusions(matrices, tops),
        "confusion_matrices": [c.tolist() for c in matrices],
    }


def recurring_confusions(matrices: list[np.ndarray], tops: list[list[dict]]) -> list[dict]:
    """Each pair that is in at least one run's top list: in how many runs' top lists, and its
    mean count over all runs; most recurrent first, then most frequent."""
    pairs = sorted({(p["true"], p["predicted"]) for run in tops for p in run})
    rows = [
        {"true": i, "predicted": j,
         "runs": sum(any(p["true"] == i and p["predicted"] == j for p in run) for run in tops),
         "mean_count": float(np.mean([c[i, j] for c in matrices])),
         "counts": [int(c[i, j]) for c in matrices]}
        for i, j in pairs
    ]
    rows.sort(key=lambda r: (-r["runs"], -r["mean_count"], r["true"], r["predicted"]))
    return rows
