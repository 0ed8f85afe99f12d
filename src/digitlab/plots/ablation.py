"""Figures of the ablation study: accuracy curves per variant, and augmented digits."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.ticker import MaxNLocator, PercentFormatter  # noqa: E402

from digitlab.i18n import domain  # noqa: E402
from digitlab.plots import save_figure  # noqa: E402
from digitlab.shapes import IMAGE_SHAPE  # noqa: E402

_ = domain("report").gettext


def plot_ablation_curves(runs: dict[str, list[dict[str, Any]]], path: str | os.PathLike) -> Path:
    """One panel per variant: train (dashed) and test (solid) accuracy per epoch, mean over
    the seeds, so one sees where the gap between them — overfitting — closes."""
    names = list(runs)
    fig, axes = plt.subplots(1, len(names), figsize=(3.2 * len(names), 3.4), sharey=True)
    low = 1.0
    for ax, name, colour in zip(axes, names, plt.cm.tab10.colors, strict=False):
        train = np.mean([run["train_accuracy"] for run in runs[name]], axis=0)
        test = np.mean([run["test_accuracies"] for run in runs[name]], axis=0)
        epochs = np.arange(1, len(test) + 1)
        marker = "o" if len(epochs) <= 12 else None  # a short run is a few points: show them
        ax.plot(epochs, train, "--", color=colour, marker=marker, label=_("train (running)"))
        ax.plot(epochs, test, "-", color=colour, marker=marker, label=_("test"))
        low = min(low, float(np.min(test[len(test) // 3 :])), float(np.min(
            train[len(train) // 3 :])))
        ax.set_title(name)
        ax.set_xlabel(_("epoch"))
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7, loc="lower right")
    axes[0].set_ylabel(_("digits read correctly"))
    axes[0].set_ylim(max(0.0, low - 0.02), 1.0)
    axes[0].yaxis.set_major_formatter(PercentFormatter(1.0, decimals=0))
    fig.suptitle(_("Train and test accuracy per epoch (mean over seeds)"))
    fig.tight_layout()
    return save_figure(fig, path)


def plot_augmented_digits(images: np.ndarray, labels: np.ndarray, options, path,
                          n_digits: int = 5, n_versions: int = 8, seed: int = 0) -> Path:
    """A grid: each row one training digit (first column) and random versions of it."""
    from digitlab.data.augment import augment

    picks = [int(np.flatnonzero(labels == digit)[0]) for digit in range(n_digits)]
    rng = np.random.default_rng(seed)
    fig, axes = plt.subplots(n_digits, n_versions + 1,
                             figsize=(1.1 * (n_versions + 1), 1.1 * n_digits))
    for row, index in enumerate(picks):
        versions = augment(np.repeat(images[index : index + 1], n_versions, axis=0), options, rng)
        for col, image in enumerate([images[index], *versions]):
            ax = axes[row, col]
            ax.imshow(image.reshape(IMAGE_SHAPE), cmap="gray", vmin=0, vmax=1)
            ax.set_xticks([])
            ax.set_yticks([])
            if row == 0:
                ax.set_title(_("original") if col == 0
                             else _("version {n}").format(n=col), fontsize=7)
    fig.tight_layout()
    return save_figure(fig, path)
