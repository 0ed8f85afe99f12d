"""Figures of a training run: E and accuracy per epoch, and the finer running trace."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator, PercentFormatter

from digitlab.i18n import N_, domain
from digitlab.plots import detached, save_figure

_ = domain("report").gettext
#: per-epoch series: (history column prefix, legend label, colour)
SPLITS = (("train", N_("train"), "tab:blue"), ("validation", N_("validation"), "tab:orange"),
          ("test", N_("test"), "tab:green"))


def plot_training_curves(
    epochs: Sequence[Mapping[str, Any]], trace: Sequence[Mapping[str, Any]],
    path: str | os.PathLike, title: str | None = None,
) -> Path:
    """Save :func:`training_curves_figure` to ``path``; return the path."""
    return save_figure(training_curves_figure(epochs, trace, title), path, dpi=110)


def training_curves_figure(
    epochs: Sequence[Mapping[str, Any]], trace: Sequence[Mapping[str, Any]],
    title: str | None = None,
) -> Figure:
    """A 2×2 figure of a run's per-epoch records and its running trace.

    ``epochs``: one mapping per epoch with ``epoch`` and ``{train,validation,test}_{loss,
    accuracy}`` (None where a split is missing); ``trace``: mappings with ``samples``, the
    fractional ``epoch``, ``loss`` and ``accuracy`` (a :class:`~digitlab.history.History`'s
    ``epochs`` and ``trace``).

    Top row: mean E and accuracy per epoch for the train, validation and test splits (the train
    values are the running means over each epoch, as the progress bar shows them). Bottom row:
    the finer trace, E and accuracy over the last ``trace_every`` samples against the number of
    samples seen, so the progress *within* epochs is visible too.
    """
    fig, axes = plt.subplots(2, 2, figsize=(11, 7.5))
    (ax_loss, ax_acc), (ax_trace_loss, ax_trace_acc) = axes
    numbers = [record.get("epoch") for record in epochs]
    marker = "o" if len(numbers) <= 30 else None
    for prefix, label, colour in SPLITS:
        for ax, metric in ((ax_loss, "loss"), (ax_acc, "accuracy")):
            values = [record.get(f"{prefix}_{metric}") for record in epochs]
            pairs = [(e, v) for e, v in zip(numbers, values, strict=True) if v is not None]
            if pairs:
                xs, ys = zip(*pairs, strict=True)
                ax.plot(xs, ys, marker=marker, color=colour, label=_(label))
    ax_loss.set(title=_("E per epoch"), xlabel=_("epoch"), ylabel=_("mean E per sample"))
    ax_acc.set(title=_("accuracy per epoch"), xlabel=_("epoch"),
               ylabel=_("digits read correctly"))
    for ax in (ax_loss, ax_acc):
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))

    samples = [point["samples"] for point in trace]
    ax_trace_loss.plot(samples, [p["loss"] for p in trace], color="tab:blue", lw=1)
    ax_trace_acc.plot(samples, [p["accuracy"] for p in trace], color="tab:blue", lw=1)
    ax_trace_loss.set(title=_("running E while training"), xlabel=_("training samples seen"),
                      ylabel=_("mean E per sample"))
    ax_trace_acc.set(title=_("running accuracy while training"),
                     xlabel=_("training samples seen"), ylabel=_("digits read correctly"))
    _mark_epoch_ends(trace, (ax_trace_loss, ax_trace_acc))

    for ax in (ax_acc, ax_trace_acc):
        ax.yaxis.set_major_formatter(PercentFormatter(xmax=1.0))
    for ax in axes.flat:
        ax.grid(True, alpha=0.3)
        if ax.get_legend_handles_labels()[0]:
            ax.legend()
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return detached(fig)


def _mark_epoch_ends(trace: Sequence[Mapping[str, Any]], axes) -> None:
    """Faint vertical lines where each epoch ended on the samples axis of the trace."""
    # the last trace point of each epoch lies at a whole number of epochs
    ends = [point["samples"] for point in trace if float(point["epoch"]).is_integer()]
    for ax in axes:
        for x in ends[:-1]:
            ax.axvline(x, color="grey", lw=0.6, ls=":", alpha=0.7)
