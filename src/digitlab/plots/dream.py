"""Figures of deep dreams (equation (3)): the dreamed digits beside the class means, how each run
converged, what the network reads in each dream, and "turn A into B".

Every function takes plain arrays (from :mod:`digitlab.dreaming`) and a path, and returns
the path written. Digits are drawn dark on light (``gray_r``), like ink on paper. A dream may be
faint (the network is often sure long before a pixel reaches 1; the default dreams end at full
contrast, plain and ascent ones need not), so each dream is drawn from 0 to its own brightest
pixel, and the figure says so.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure

from digitlab.i18n import N_, domain, number
from digitlab.plots import detached, save_figure, show_digit
from digitlab.shapes import IMAGE_SHAPE

_report = domain("report")
_, ngettext = _report.gettext, _report.ngettext

DPI = 110
LOSS_COLOR, PROBABILITY_COLOR = "tab:blue", "tab:orange"
_LOSS_LABELS = {"ce": N_("E (cross-entropy)"), "mse": "E = ½‖y − t‖²"}
GRID_TITLE = N_("What the network sees as each digit (deep dream, equation (3))")


def plot_dream_grid(
    digits: Sequence[int],
    dreams: np.ndarray,
    target_probabilities: Sequence[float],
    path: str | os.PathLike,
    class_means: np.ndarray | None = None,
    title: str | None = None,
) -> Path:
    """Save :func:`dream_grid_figure` to ``path``; return the path."""
    return save_figure(dream_grid_figure(digits, dreams, target_probabilities, class_means,
                                         title), path, dpi=DPI)


def dream_grid_figure(
    digits: Sequence[int],
    dreams: np.ndarray,
    target_probabilities: Sequence[float],
    class_means: np.ndarray | None = None,
    title: str | None = None,
) -> Figure:
    """The dreamed images (N, 784), one column per digit, above the class means (N, 784).

    Each dream's title gives the network's probability of its digit and the brightest pixel
    (each dream is drawn from 0 to that value). ``title``: :data:`GRID_TITLE` by default, in
    the active language.
    """
    title = title or _(GRID_TITLE)
    dreams = np.asarray(dreams)
    n = len(digits)
    rows = 2 if class_means is not None else 1
    fig, axes = plt.subplots(rows, n, figsize=(max(1.25 * n + 0.9, 7.0), 1.6 * rows + 0.8),
                             squeeze=False)
    for j, digit in enumerate(digits):
        top = float(dreams[j].max())
        show_digit(axes[0, j], dreams[j], vmax=top,
              title=_("{digit}: p={p}\nmax {top}").format(
                  digit=digit, p=number(target_probabilities[j], 3), top=number(top, 2)),
              fontsize=8)
        if class_means is not None:
            show_digit(axes[1, j], class_means[j], vmax=float(np.max(class_means[j])),
                  title=_("mean of the {digit}s").format(digit=digit), fontsize=8)
    axes[0, 0].set_ylabel(_("dream"), fontsize=9)
    if class_means is not None:
        axes[1, 0].set_ylabel(_("training\nclass mean"), fontsize=9)
    fig.suptitle(title, fontsize=11)
    fig.text(0.5, 0.015, _("each image drawn from 0 (white) to its own brightest pixel "
                           "(black); p: the network's probability of the digit"),
             ha="center", fontsize=8, color="0.3")
    fig.tight_layout(rect=(0, 0.05, 1, 0.95))
    return detached(fig)


def plot_dream_curves(
    digits: Sequence[int],
    losses: Sequence[np.ndarray],
    target_probabilities: Sequence[np.ndarray],
    path: str | os.PathLike,
    loss_name: str = "ce",
    persisted_from: Sequence[int | None] | None = None,
    stop_probability: float | None = None,
) -> Path:
    """Per digit, E (log scale, left) and the target probability (right) over the steps.

    Each curve starts at step 0 (the start image). A dotted line marks where the priors were
    dropped (persistence), a dashed one the stopping probability.
    """
    n = len(digits)
    columns = min(n, 5)
    rows = -(-n // columns)
    fig, axes = plt.subplots(rows, columns, figsize=(max(3.0 * columns, 7.0), 2.4 * rows + 0.6),
                             squeeze=False)
    for k, digit in enumerate(digits):
        ax = axes[k // columns, k % columns]
        steps = np.arange(len(losses[k]))
        ax.plot(steps, np.maximum(losses[k], 1e-12), color=LOSS_COLOR, lw=1.2)
        ax.set_yscale("log")
        ax.tick_params(axis="y", labelcolor=LOSS_COLOR, labelsize=7)
        ax.tick_params(axis="x", labelsize=7)
        twin = ax.twinx()
        twin.plot(steps, target_probabilities[k], color=PROBABILITY_COLOR, lw=1.2)
        twin.set_ylim(-0.02, 1.02)
        twin.tick_params(axis="y", labelcolor=PROBABILITY_COLOR, labelsize=7)
        if stop_probability is not None:
            twin.axhline(stop_probability, color=PROBABILITY_COLOR, ls="--", lw=0.7, alpha=0.6)
        if persisted_from is not None and persisted_from[k] is not None:
            ax.axvline(persisted_from[k], color="0.4", ls=":", lw=1)
        ax.set_title(ngettext("digit {digit}: p={p} after {n} step",
                              "digit {digit}: p={p} after {n} steps", len(losses[k]) - 1).format(
            digit=digit, p=number(target_probabilities[k][-1], 3), n=len(losses[k]) - 1),
            fontsize=8)
        if k % columns == 0:
            ax.set_ylabel(_(_LOSS_LABELS.get(loss_name, "E")), color=LOSS_COLOR, fontsize=8)
        if k % columns == columns - 1 or k == n - 1:
            twin.set_ylabel(_("p(digit)"), color=PROBABILITY_COLOR, fontsize=8)
        if k // columns == rows - 1:
            ax.set_xlabel(_("step of equation (3)"), fontsize=8)
    for k in range(n, rows * columns):
        axes[k // columns, k % columns].axis("off")
    fig.suptitle(_("Dreaming: E (blue, log scale) and the probability of the digit (orange) "
                   "per step"), fontsize=10)
    fig.tight_layout(rect=(0, 0, 1, 0.95))
    return save_figure(fig, path, dpi=DPI)


def plot_dream_probabilities(
    digits: Sequence[int], probabilities: np.ndarray, path: str | os.PathLike
) -> Path:
    """Table of what the network reads in each dream: rows = dreamed digit, columns = class."""
    probabilities = np.asarray(probabilities)
    n, n_classes = probabilities.shape
    fig, ax = plt.subplots(figsize=(0.62 * n_classes + 1.8, 0.45 * n + 1.5))
    ax.imshow(probabilities, cmap="Blues", vmin=0, vmax=1, aspect="auto")
    for i in range(n):
        for j in range(n_classes):
            value = probabilities[i, j]
            text = number(value, 3) if value >= 0.0005 else "0"
            ax.text(j, i, text, ha="center", va="center", fontsize=7,
                    color="white" if value > 0.5 else "black",
                    fontweight="bold" if j == digits[i] else "normal")
    ax.set_xticks(range(n_classes))
    ax.set_yticks(range(n))
    ax.set_yticklabels([str(d) for d in digits])
    ax.set_xlabel(_("class"))
    ax.set_ylabel(_("dreamed digit"))
    ax.set_title(_("Final probabilities the network gives each dream"), fontsize=10)
    fig.tight_layout()
    return save_figure(fig, path, dpi=DPI)


def plot_turn(
    start: np.ndarray,
    image: np.ndarray,
    start_probabilities: np.ndarray,
    final_probabilities: np.ndarray,
    from_digit: int,
    to_digit: int,
    path: str | os.PathLike,
    steps: int | None = None,
) -> Path:
    """"Turn A into B": the real image, the change (diverging colours), the result, and the
    probabilities the network gives the real image and the result. An adversarial example."""
    start, image = np.asarray(start), np.asarray(image)
    change = image - start
    l2, linf = float(np.linalg.norm(change)), float(np.abs(change).max())
    fig = plt.figure(figsize=(9.6, 5.6))
    grid = fig.add_gridspec(2, 3, height_ratios=(1.35, 1.0))
    show_digit(fig.add_subplot(grid[0, 0]), start,
          title=_("real test image of digit {a}\np({a})={p_a}, p({b})={p_b}").format(
              a=from_digit, b=to_digit, p_a=number(start_probabilities[from_digit], 3),
              p_b=number(start_probabilities[to_digit], 3)), fontsize=9)
    ax = fig.add_subplot(grid[0, 1])
    bound = max(linf, 1e-6)
    shown = ax.imshow(change.reshape(IMAGE_SHAPE), cmap="RdBu_r", vmin=-bound, vmax=bound,
                      interpolation="nearest")
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_title(_("change (red added, blue removed)\nL2 {l2}, L∞ {linf}").format(
        l2=number(l2, 2), linf=number(linf, 2)), fontsize=9)
    fig.colorbar(shown, ax=ax, fraction=0.046, pad=0.03).ax.tick_params(labelsize=7)
    read = int(np.argmax(final_probabilities))
    if steps is None:
        result = _("read as {read}\np({b})={p_b}, p({a})={p_a}")
    else:
        result = ngettext("read as {read} after {steps} step\np({b})={p_b}, p({a})={p_a}",
                          "read as {read} after {steps} steps\np({b})={p_b}, p({a})={p_a}",
                          steps)
    show_digit(fig.add_subplot(grid[0, 2]), image,
          title=result.format(read=read, steps=steps, a=from_digit, b=to_digit,
                              p_b=number(final_probabilities[to_digit], 3),
                              p_a=number(final_probabilities[from_digit], 3)), fontsize=9)
    classes = np.arange(len(start_probabilities))
    bars = fig.add_subplot(grid[1, :])
    width = 0.38
    bars.bar(classes - width / 2, start_probabilities, width, color="0.6",
             label=_("real image (digit {a})").format(a=from_digit))
    bars.bar(classes + width / 2, final_probabilities, width, color="tab:red",
             label=_("changed image (target {b})").format(b=to_digit))
    bars.set_xticks(classes)
    bars.set_ylim(0, 1.05)
    bars.set_xlabel(_("class"))
    bars.set_ylabel(_("probability"))
    bars.legend(fontsize=8, loc="lower center", bbox_to_anchor=(0.5, 1.0), ncol=2,
                frameon=False)
    fig.suptitle(_("Turn {a} into {b}: an adversarial example (a person still sees the "
                   "original digit)").format(a=from_digit, b=to_digit), fontsize=11)
    fig.tight_layout(rect=(0, 0, 1, 0.95))
    return save_figure(fig, path, dpi=DPI)
