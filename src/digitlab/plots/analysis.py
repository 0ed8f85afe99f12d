"""Figures of the analysis of a trained network: confusions, mistakes, retrainings, the data, and
the answers to images that are not digits.

Every function takes numbers and images (as :mod:`digitlab.analysis` computes them) and a path,
and returns the path written. Digits are drawn dark on light (``gray_r``), like ink on paper.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.colors import PowerNorm
from matplotlib.figure import Figure

from digitlab.i18n import domain, number, percent
from digitlab.plots import detached, save_figure, show_digit_row
from digitlab.shapes import N_CLASSES

_report = domain("report")
_, ngettext, npgettext = _report.gettext, _report.ngettext, _report.npgettext

DPI = 110
# Matplotlib 3.10 replaced boxplot's ``vert=False`` by ``orientation="horizontal"``.
_MPL = tuple(int(part) for part in matplotlib.__version__.split(".")[:2])
HORIZONTAL = {"orientation": "horizontal"} if _MPL >= (3, 10) else {"vert": False}
REAL_COLOR, KIND_COLOR = "tab:blue", "tab:orange"


def _annotate_bars(ax, bars, labels: Sequence[str], fontsize: float = 8) -> None:
    for bar, label in zip(bars, labels, strict=True):
        ax.annotate(label, (bar.get_x() + bar.get_width() / 2, bar.get_height()),
                    xytext=(0, 2), textcoords="offset points", ha="center", va="bottom",
                    fontsize=fontsize)


# ---------------------------------------------------------------------- confusions
def plot_confusion_matrix(confusion: np.ndarray, path: str | os.PathLike,
                          title: str | None = None) -> Path:
    """Save :func:`confusion_matrix_figure` to ``path``; return the path."""
    return save_figure(confusion_matrix_figure(confusion, title), path, dpi=DPI)


def confusion_matrix_figure(confusion: np.ndarray,
                            title: str | None = None) -> Figure:
    """Heat map of C (10, 10), rows = true digit; colour = share of the row, each non-empty cell
    annotated with its count and that share. A power-law colour scale keeps the rare
    off-diagonal confusions visible next to the large diagonal. ``title``: "Confusion matrix of
    the test split" in the active language by default."""
    title = title or _("Confusion matrix of the test split")
    confusion = np.asarray(confusion)
    totals = confusion.sum(axis=1, keepdims=True)
    shares = np.divide(confusion, totals, out=np.zeros(confusion.shape), where=totals > 0)
    n = confusion.shape[0]
    fig, ax = plt.subplots(figsize=(9, 8))
    image = ax.imshow(shares, cmap="Blues", norm=PowerNorm(0.35, vmin=0, vmax=1))
    for i in range(n):
        for j in range(n):
            if confusion[i, j] == 0:
                continue
            dark = shares[i, j] > 0.3
            ax.text(j, i, f"{confusion[i, j]}\n{number(100 * shares[i, j], 1)}%", ha="center",
                    va="center", fontsize=8, color="white" if dark else "black",
                    fontweight="bold" if i == j else "normal")
    ax.set_xticks(range(n))
    ax.set_yticks(range(n))
    ax.set_xlabel(_("predicted digit"))
    ax.set_ylabel(_("true digit"))
    ax.set_title(_("{title}\n(count and share of the true digit's images)").format(
        title=title))
    fig.colorbar(image, ax=ax, label=_("share of the true digit's images"), shrink=0.85)
    fig.tight_layout()
    return detached(fig)


def plot_per_digit_metrics(per_digit: Sequence[dict[str, Any]],
                           path: str | os.PathLike) -> Path:
    """Per digit: accuracy (= recall) and precision side by side; the worst digit marked."""
    digits = np.array([row["digit"] for row in per_digit])
    acc = np.array([row["accuracy"] if row["accuracy"] is not None else np.nan
                    for row in per_digit])
    prec = np.array([row["precision"] if row["precision"] is not None else np.nan
                     for row in per_digit])
    fig, ax = plt.subplots(figsize=(10, 4.5))
    width = 0.4
    bars_a = ax.bar(digits - width / 2, acc, width,
                    label=_("accuracy = recall (of the true digit)"))
    bars_p = ax.bar(digits + width / 2, prec, width, label=_("precision (of the answer)"))
    _annotate_bars(ax, bars_a, [f"{100 * v:.0f}" for v in acc], 7)
    _annotate_bars(ax, bars_p, [f"{100 * v:.0f}" for v in prec], 7)
    worst = int(np.nanargmin(acc))
    ax.annotate(_("worst"), (worst - width / 2, acc[worst]), xytext=(0, 14),
                textcoords="offset points", ha="center", color="tab:red", fontsize=9,
                fontweight="bold")
    low = np.nanmin(np.r_[acc, prec])
    ax.set_ylim(max(0.0, low - 0.1), 1.06)
    ax.set_xticks(digits)
    ax.set_xlabel(_("digit"))
    ax.set_ylabel(_("share (labels in %)"))
    ax.set_title(_("Per digit: accuracy and precision on the test split"))
    ax.legend(loc="lower left", fontsize=8)
    fig.tight_layout()
    return save_figure(fig, path, dpi=DPI)


def plot_mistake_histograms(by_true: Sequence[int], by_predicted: Sequence[int],
                            test_counts: Sequence[int], path: str | os.PathLike) -> Path:
    """Mistakes by true digit (annotated with the share of that digit's test images) and by
    predicted digit (wrong answers that named it)."""
    digits = np.arange(len(by_true))
    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 4.2), sharey=True)
    bars = left.bar(digits, by_true, color="tab:red")
    _annotate_bars(left, bars, [f"{c}\n{number(100 * c / t, 1)}%" if t else str(c)
                                for c, t in zip(by_true, test_counts, strict=True)], 7)
    left.set_title(_("Mistakes by true digit (count, share of that digit)"))
    left.set_xlabel(_("true digit"))
    left.set_ylabel(_("misclassified test images"))
    bars = right.bar(digits, by_predicted, color="tab:purple")
    _annotate_bars(right, bars, [str(c) for c in by_predicted], 8)
    right.set_title(_("Mistakes by predicted digit (wrong answers naming it)"))
    right.set_xlabel(_("predicted digit"))
    top = max(max(by_true, default=0), max(by_predicted, default=0), 1)
    for ax in (left, right):
        ax.set_xticks(digits)
        ax.set_ylim(0, top * 1.25)
    fig.tight_layout()
    return save_figure(fig, path, dpi=DPI)


# ---------------------------------------------------------------------- galleries
def plot_gallery(images: np.ndarray, captions: Sequence[str], path: str | os.PathLike,
                 title: str, columns: int = 10) -> Path:
    """Images (N, 784) in a grid, each with a caption (e.g. '7 → 2\\np = 0.98')."""
    rows = max(-(-len(images) // columns), 1)
    height = 1.35 * rows + 0.6
    fig, axes = plt.subplots(rows, 1, squeeze=False, figsize=(1.15 * columns, height))
    for r, ax in enumerate(axes[:, 0]):
        part = slice(r * columns, (r + 1) * columns)
        show_digit_row(ax, images[part], list(captions[part]), columns=columns)
    fig.suptitle(title, fontsize=11)
    fig.subplots_adjust(left=0.01, right=0.99, bottom=0.02, top=1 - 0.75 / height,
                        hspace=0.45)
    return save_figure(fig, path, dpi=DPI)


def plot_pair_gallery(rows: Sequence[tuple[str, np.ndarray, Sequence[str]]],
                      path: str | os.PathLike, title: str, columns: int = 8) -> Path:
    """One row per confused pair: (row label, images (n, 784), captions), up to ``columns``."""
    n_rows = max(len(rows), 1)
    width, height = 1.15 * columns + 1.6, 1.35 * n_rows + 0.6
    fig, axes = plt.subplots(n_rows, 1, squeeze=False, figsize=(width, height))
    for ax, (label, images, captions) in zip(axes[:, 0], rows, strict=False):
        show_digit_row(ax, images[:columns], list(captions[:columns]), columns=columns)
        ax.text(-0.7 / (width - 1.6), 0.5, label, ha="center", va="center", fontsize=10,
                transform=ax.transAxes)
    for ax in axes[len(rows):, 0]:
        ax.axis("off")
    fig.suptitle(title, fontsize=11)
    fig.subplots_adjust(left=1.5 / width, right=0.99, bottom=0.02, top=1 - 0.75 / height,
                        hspace=0.45)
    return save_figure(fig, path, dpi=DPI)


# ---------------------------------------------------------------------- retraining
def plot_retraining(retraining: dict[str, Any], reference_accuracy: float,
                    path: str | os.PathLike) -> Path:
    """Three panels over the K retrainings: accuracy per run with mean ± std (and the analysed
    network's accuracy), mistakes per digit per run, and the top confusions per run."""
    seeds = retraining["seeds"]
    acc = np.array(retraining["accuracies"])
    fig, axes = plt.subplots(1, 3, figsize=(17, 5.2),
                             gridspec_kw={"width_ratios": [1, 1.5, 1.2]})
    ax = axes[0]
    x = np.arange(len(seeds))
    mean, std = retraining["accuracy_mean"], retraining["accuracy_std"]
    ax.axhspan(100 * (mean - std), 100 * (mean + std), color=REAL_COLOR, alpha=0.15,
               label=_("mean ± std: {mean} ± {std} %").format(mean=number(100 * mean, 2),
                                                              std=number(100 * std, 2)))
    ax.axhline(100 * mean, color=REAL_COLOR)
    ax.plot(x, 100 * acc, "o", color=REAL_COLOR, label=_("retrained"))
    ax.axhline(100 * reference_accuracy, color="black", ls="--",
               label=_("analysed network: {accuracy}").format(
                   accuracy=percent(reference_accuracy, 2)))
    ax.set_xticks(x, [str(s) for s in seeds])
    ax.set_xlabel(_("seed"))
    ax.set_ylabel(_("test accuracy (%)"))
    epochs = retraining["epochs"]
    ax.set_title(ngettext("Accuracy of {n} retraining ({epochs} each)",
                          "Accuracy of {n} retrainings ({epochs} each)",
                          len(seeds)).format(n=len(seeds), epochs=npgettext(
                              "for how long", "{n} epoch", "{n} epochs", epochs).format(
                              n=epochs)))
    ax.legend(fontsize=8, loc="lower right")
    spread = max(acc.max() - acc.min(), abs(reference_accuracy - mean), 0.005)
    ax.set_ylim(100 * (min(acc.min(), reference_accuracy) - spread),
                100 * (max(acc.max(), reference_accuracy) + spread))

    mistakes = np.asarray(retraining["mistakes_by_digit"])  # (K, 10)
    digits = [str(d) for d in range(N_CLASSES)]
    _annotated_heatmap(axes[1], mistakes, [str(s) for s in seeds], digits,
                       _("Mistakes per true digit in each retraining"), _("true digit"),
                       _("seed"))

    recurring = retraining["recurring_confusions"][:8]
    counts = np.array([r["counts"] for r in recurring]).reshape(len(recurring), len(seeds))
    labels = [f"{r['true']} → {r['predicted']}" for r in recurring]
    _annotated_heatmap(axes[2], counts, labels, [str(s) for s in seeds],
                       _("Top-{top} confusions per retraining (outlined)").format(
                           top=retraining["top"]),
                       _("seed"), _("true → predicted"))
    for row, pair in enumerate(recurring):
        for col, run in enumerate(retraining["top_confusions"]):
            if any(p["true"] == pair["true"] and p["predicted"] == pair["predicted"]
                   for p in run):
                axes[2].add_patch(plt.Rectangle((col - 0.5, row - 0.5), 1, 1, fill=False,
                                                edgecolor="tab:red", lw=2))
    fig.tight_layout()
    return save_figure(fig, path, dpi=DPI)


def _annotated_heatmap(ax, values: np.ndarray, row_labels, col_labels, title, xlabel,
                       ylabel) -> None:
    values = np.asarray(values, dtype=float).reshape(len(row_labels), len(col_labels))
    top = max(values.max(initial=0), 1)
    ax.imshow(values, cmap="Oranges", vmin=0, vmax=top, aspect="auto")
    for i in range(values.shape[0]):
        for j in range(values.shape[1]):
            ax.text(j, i, f"{values[i, j]:.0f}", ha="center", va="center", fontsize=8,
                    color="white" if values[i, j] > 0.6 * top else "black")
    ax.set_xticks(range(len(col_labels)), col_labels)
    ax.set_yticks(range(len(row_labels)), row_labels)
    ax.set_title(title, fontsize=10)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)


# ---------------------------------------------------------------------- the data
def plot_data_overview(images: np.ndarray, labels: np.ndarray, train_counts: Sequence[int],
                       test_counts: Sequence[int], path: str | os.PathLike,
                       per_digit: int = 10) -> Path:
    """Left: ``per_digit`` training examples of each digit, one row per digit. Right: class
    frequencies of the training and test splits (share of the split, count on the bar), the
    largest imbalance of the training split in the title."""
    fig = plt.figure(figsize=(15, 6.6))
    outer = fig.add_gridspec(1, 2, width_ratios=[1, 1.25], wspace=0.12)
    grid = outer[0].subgridspec(N_CLASSES, 1, hspace=0.1)
    corners = []
    for digit in range(N_CLASSES):
        ax = fig.add_subplot(grid[digit, 0])
        corners.append(ax)
        show_digit_row(ax, images[np.flatnonzero(labels == digit)[:per_digit]],
                       columns=per_digit, gap=2)
        ax.text(-0.01, 0.5, str(digit), ha="right", va="center", fontsize=10,
                transform=ax.transAxes)
    ax = fig.add_subplot(outer[1])
    train, test = np.asarray(train_counts), np.asarray(test_counts)
    digits, width = np.arange(N_CLASSES), 0.4
    bars = ax.bar(digits - width / 2, 100 * train / max(train.sum(), 1), width,
                  label=ngettext("training ({n} image)", "training ({n} images)",
                                 int(train.sum())).format(n=number(int(train.sum()))))
    _annotate_bars(ax, bars, [str(c) for c in train], 7)
    bars = ax.bar(digits + width / 2, 100 * test / max(test.sum(), 1), width,
                  label=ngettext("test ({n} image)", "test ({n} images)",
                                 int(test.sum())).format(n=number(int(test.sum()))))
    _annotate_bars(ax, bars, [str(c) for c in test], 7)
    ax.set_xticks(digits)
    ax.set_xlabel(_("digit"))
    ax.set_ylabel(_("share of the split (%); count on each bar"))
    ax.set_ylim(0, 100 * max(train.max() / max(train.sum(), 1),
                             test.max() / max(test.sum(), 1)) * 1.3)
    most, least = int(train.argmax()), int(train.argmin())
    if train[least]:
        imbalance = _("Class frequencies, training vs test\nlargest imbalance (training): "
                      "{most} has {most_count} images, {least} has {least_count}, ratio {ratio}")
    else:
        imbalance = _("Class frequencies, training vs test\nlargest imbalance (training): "
                      "{most} has {most_count} images, {least} has {least_count}")
    ax.set_title(imbalance.format(most=most, most_count=train[most], least=least,
                                  least_count=train[least],
                                  ratio=number(train[most] / max(train[least], 1), 2)),
                 fontsize=11)
    ax.legend(fontsize=8, loc="upper center", ncol=2)
    fig.subplots_adjust(left=0.03, right=0.99, top=0.9, bottom=0.08)
    corners[0].apply_aspect()  # the box the images fill, not the one the grid gave
    box = corners[0].get_position()
    fig.text((box.x0 + box.x1) / 2, box.y1 + 0.015,
             _("Training examples of each digit"), ha="center", va="bottom", fontsize=11)
    return save_figure(fig, path, dpi=DPI)


# ---------------------------------------------------------------------- non-digits
def plot_nondigit_examples(rows: Sequence[tuple[str, np.ndarray, np.ndarray, np.ndarray]],
                           path: str | os.PathLike, columns: int = 8) -> Path:
    """One row per kind: (title, images (n, 784), predicted digits (n,), top probability (n,));
    each image captioned with the network's answer. Pixels are shown as stored (0 black,
    1 white), so that "all black", "all white" and "inverted" look like their names."""
    fig, axes = plt.subplots(len(rows), 1, squeeze=False,
                             figsize=(1.0 * columns + 1.9, 1.3 * len(rows) + 0.9))
    for ax, (title, images, predicted, confidence) in zip(axes[:, 0], rows, strict=True):
        shown = images[:columns]
        show_digit_row(ax, shown, [f"→ {predicted[c]} ({number(confidence[c], 2)})"
                                   for c in range(len(shown))],
                       columns=columns, cmap="gray", fontsize=7.5)
        ax.text(-0.02, 0.5, title, ha="right", va="center", fontsize=9,
                transform=ax.transAxes)
    fig.suptitle(_("What the network answers (→ digit, top probability)\n"
                   "pixels as stored: 0 black, 1 white"), fontsize=11)
    fig.subplots_adjust(left=1.9 / (1.0 * columns + 1.9), right=0.99, bottom=0.01,
                        top=1 - 0.95 / (1.3 * len(rows) + 0.9), hspace=0.35)
    return save_figure(fig, path, dpi=DPI)


def plot_nondigit_predictions(summaries: dict[str, dict[str, Any]],
                              path: str | os.PathLike, columns: int = 4) -> Path:
    """Histogram of the predicted digits, one panel per kind (the first: real test digits)."""
    names = list(summaries)
    n_rows = -(-len(names) // columns)
    fig, axes = plt.subplots(n_rows, columns, figsize=(3.4 * columns, 2.4 * n_rows),
                             squeeze=False, sharey=True)
    for ax, name in zip(axes.flat, names, strict=False):  # spare panels stay empty
        shares = np.asarray(summaries[name]["predicted_shares"])
        color = REAL_COLOR if name == names[0] else KIND_COLOR
        ax.bar(np.arange(N_CLASSES), 100 * shares, color=color)
        ax.set_title(f"{name} (n = {number(summaries[name]['n'])})", fontsize=9)
        ax.set_xticks(range(N_CLASSES))
        ax.tick_params(labelsize=8)
        ax.set_ylim(0, 105)
    for ax in axes.flat[len(names):]:
        ax.axis("off")
    fig.supxlabel(_("predicted digit"), fontsize=10)
    fig.supylabel(_("% of the answers"), fontsize=10)
    fig.suptitle(_("Which digit the network answers, per kind of image"), fontsize=11)
    fig.tight_layout(rect=(0, 0, 1, 0.97))
    return save_figure(fig, path, dpi=DPI)


def plot_nondigit_confidence(summaries: dict[str, dict[str, Any]], path: str | os.PathLike,
                             threshold: float, show_margin: bool) -> Path:
    """Horizontal bars per kind (real test digits first, in blue): mean top probability, share
    of confident answers and, for non-softmax outputs, the mean output margin."""
    names = list(summaries)
    def decimal(value: float) -> str:
        return number(value, 2)

    def share(value: float) -> str:
        return percent(value, 0)

    panels = [("mean_top_probability", _("mean top probability"), decimal, 1.0),
              ("share_confident", _("share with top probability ≥ {threshold}").format(
                  threshold=number(threshold)), share, 1.0)]
    if show_margin:
        top = max(s["mean_margin"] for s in summaries.values())
        panels.append(("mean_margin", _("mean output margin (top − second)"), decimal, top))
    fig, axes = plt.subplots(1, len(panels), figsize=(5 * len(panels) + 1.5,
                                                      0.42 * len(names) + 1.4), sharey=True)
    y = np.arange(len(names))
    colors = [REAL_COLOR] + [KIND_COLOR] * (len(names) - 1)
    for ax, (key, label, fmt, high) in zip(np.atleast_1d(axes), panels, strict=True):
        values = np.array([summaries[n][key] for n in names])
        ax.barh(y, values, color=colors)
        ax.axvline(values[0], color=REAL_COLOR, ls="--", lw=1)  # the real digits' level
        for yi, v in zip(y, values, strict=True):
            ax.text(v, yi, " " + fmt(v), va="center", fontsize=8)
        ax.set_xlim(0, max(high, 1e-9) * 1.2)
        ax.set_title(label, fontsize=10)
    first = np.atleast_1d(axes)[0]
    first.set_yticks(y, names)
    first.invert_yaxis()  # shared: real digits on top in every panel
    fig.suptitle(_("How sure the network is: real digits (blue) vs images that are not "
                   "digits"), fontsize=11)
    fig.tight_layout(rect=(0, 0, 1, 0.95))
    return save_figure(fig, path, dpi=DPI)


def plot_nondigit_scores(scores: dict[str, dict[str, np.ndarray]],
                         aurocs: dict[str, dict[str, float]], path: str | os.PathLike) -> Path:
    """Distributions of the two OOD scores per kind (boxes: quartiles, whiskers: 5th–95th
    percentile), real test digits first; each kind's AUROC against real digits at the right.

    ``scores[name]`` holds ``max_probability`` and ``energy`` arrays; ``aurocs[name]`` holds
    ``auroc`` and ``auroc_energy`` (none for the real digits)."""
    names = list(scores)
    fig, axes = plt.subplots(1, 2, figsize=(14, 0.45 * len(names) + 1.6), sharey=True)
    panels = [("max_probability", "auroc", _("top probability (higher = more digit-like)")),
              ("energy", "auroc_energy", _("energy −logsumexp z (lower = more digit-like)"))]
    for ax, (key, auroc_key, label) in zip(axes, panels, strict=True):
        data = [np.asarray(scores[n][key], dtype=float) for n in names]
        boxes = ax.boxplot(data, **HORIZONTAL, whis=(5, 95), showfliers=False,
                           patch_artist=True, widths=0.6, medianprops={"color": "black"})
        for i, patch in enumerate(boxes["boxes"]):
            patch.set_facecolor(REAL_COLOR if i == 0 else KIND_COLOR)
            patch.set_alpha(0.6)
        for i, name in enumerate(names):
            if name in aurocs:
                ax.text(1.01, i + 1, f"AUROC {number(aurocs[name][auroc_key], 2)}", fontsize=8,
                        va="center", transform=ax.get_yaxis_transform())
        ax.set_xlabel(label)
        ax.grid(axis="x", alpha=0.3)
    axes[0].set_yticks(np.arange(1, len(names) + 1), names)
    axes[0].invert_yaxis()
    fig.suptitle(_("Scores that tell real digits (blue) from images that are not digits"),
                 fontsize=11)
    fig.tight_layout(rect=(0, 0, 1, 0.95))
    fig.subplots_adjust(wspace=0.25)
    return save_figure(fig, path, dpi=DPI)
