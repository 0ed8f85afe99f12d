"""Several training runs in one figure: E and accuracy per epoch, overlaid."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
from matplotlib.lines import Line2D
from matplotlib.ticker import MaxNLocator, PercentFormatter

from digitlab.plots import detached, save_figure

#: per-epoch series of a run: (history column prefix, line style)
SPLIT_STYLES = (("train", "-"), ("validation", "--"), ("test", ":"))


def plot_runs_comparison(histories: Sequence[Sequence[Mapping[str, Any]]],
                         labels: Sequence[str], path: str | os.PathLike,
                         title: str | None = None) -> Path:
    """Save :func:`runs_comparison_figure` to ``path``; return the path."""
    return save_figure(runs_comparison_figure(histories, labels, title), path, dpi=110)


def runs_comparison_figure(histories: Sequence[Sequence[Mapping[str, Any]]],
                           labels: Sequence[str], title: str | None = None):
    """Two panels, mean E and accuracy per epoch, with every run's curves overlaid.

    ``histories``: per run, its epoch records (``epoch`` and ``{train,validation,test}_{loss,
    accuracy}``, None where a split is missing: a :class:`~digitlab.history.History`'s
    ``epochs``); ``labels``: per run, its name in the legend. A run has one colour; a split one
    line style (train solid, validation dashed, test dotted). The legend below names the runs
    by colour and the splits by style.
    """
    if len(histories) != len(labels):
        raise ValueError(f"{len(histories)} histories but {len(labels)} labels")
    columns = 1 if len(labels) <= 8 else 2
    rows = -(-len(labels) // columns)  # lines of the runs' legend below the panels
    legend_inches = 0.25 + 0.22 * rows
    height = 4.2 + legend_inches
    fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(11, height))
    colours = plt.get_cmap("tab10" if len(histories) <= 10 else "tab20").colors
    drawn: set[str] = set()
    for index, epochs in enumerate(histories):
        colour = colours[index % len(colours)]
        numbers = [record.get("epoch") for record in epochs]
        marker = "o" if len(numbers) <= 30 else None
        for prefix, style in SPLIT_STYLES:
            for ax, metric in ((ax_loss, "loss"), (ax_acc, "accuracy")):
                pairs = [(e, record.get(f"{prefix}_{metric}"))
                         for e, record in zip(numbers, epochs, strict=True)]
                pairs = [(e, v) for e, v in pairs if v is not None and e is not None]
                if pairs:
                    xs, ys = zip(*pairs, strict=True)
                    ax.plot(xs, ys, color=colour, ls=style, marker=marker, ms=3, lw=1.4)
                    drawn.add(prefix)
    ax_loss.set(title="E per epoch", xlabel="epoch", ylabel="mean E per sample")
    ax_acc.set(title="accuracy per epoch", xlabel="epoch", ylabel="digits read correctly")
    ax_acc.yaxis.set_major_formatter(PercentFormatter(xmax=1.0))
    for ax in (ax_loss, ax_acc):
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(True, alpha=0.3)
    run_handles = [Line2D([], [], color=colours[i % len(colours)], lw=2, label=label)
                   for i, label in enumerate(labels)]
    split_handles = [Line2D([], [], color="black", ls=style, lw=1.4, label=prefix)
                     for prefix, style in SPLIT_STYLES if prefix in drawn]
    if split_handles:
        ax_loss.legend(handles=split_handles, fontsize=8, loc="upper right")
    fig.legend(handles=run_handles, loc="lower left", ncol=columns, fontsize=8, frameon=False,
               bbox_to_anchor=(0.01, 0.0))
    fig.tight_layout(rect=(0, legend_inches / height, 1, 0.95 if title else 1))
    if title:
        fig.suptitle(title)
    return detached(fig)
