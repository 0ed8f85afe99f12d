"""Figures of a hyperparameter sweep: accuracy versus one parameter, a line per series.

One figure per study, like the lab report's: the training accuracy on the left, the test accuracy
on the right, against the study's parameter (log x for the learning rate and the number of
neurons), a line per hidden activation × optimizer, each point the mean over the seeds with an
error bar of ± one standard deviation. The input is a study of ``summary.json`` (see
:func:`digitlab.studies.summary.summarize`), so the figure can be redrawn from that file alone.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
from matplotlib.ticker import (
    FixedLocator,
    MaxNLocator,
    NullLocator,
    PercentFormatter,
)

from digitlab.formatting import format_value, stored_text
from digitlab.i18n import N_, domain, number
from digitlab.plots import save_figure

_report = domain("report")
_, ngettext = _report.gettext, _report.ngettext
#: the config fields that name a study's series, as the legend's title shows them
SERIES_KEYS = {"activation": N_("activation"), "optimizer": N_("optimizer")}

DPI = 110
#: colour per hidden activation, line style and marker per optimizer (the built-in studies).
ACTIVATION_COLORS = {"tanh": "tab:blue", "sigmoid": "tab:orange", "relu": "tab:green",
                     "swish": "tab:red", "linear": "tab:gray"}
OPTIMIZER_STYLES = {"adam": ("-", "o"), "sgd": ("--", "s")}
MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*")
#: share of the smallest gap between x values over which the series of a point are spread, so
#: that their error bars do not hide each other.
DODGE = 0.25


def plot_study(study: dict[str, Any], path: str | os.PathLike, seeds: int | None = None) -> Path:
    """Save the figure of one study (a ``summary.json`` study) to ``path``; return the path."""
    points = study["points"]
    series = list(dict.fromkeys(point["series"] for point in points))
    values = list(dict.fromkeys(json.dumps(point["value"]) for point in points))
    categorical = not all(_is_number(json.loads(v)) for v in values)
    positions = _positions([json.loads(v) for v in values], categorical)
    shifts = _dodges(positions, len(series), study["log_x"] and not categorical)

    fig, (ax_train, ax_test) = plt.subplots(1, 2, figsize=(12, 5.2), sharey=True)
    for index, name in enumerate(series):
        mine = [p for p in points if p["series"] == name]
        color, linestyle, marker = _style(mine[0]["series_values"], index)
        for ax, metric in ((ax_train, "train_accuracy"), (ax_test, "test_accuracy")):
            shown = [p for p in mine if p[f"{metric}_mean"] is not None]
            if not shown:
                continue
            xs = [shifts[index](positions[json.dumps(p["value"])]) for p in shown]
            ys = [100 * p[f"{metric}_mean"] for p in shown]
            errors = [100 * (p[f"{metric}_std"] or 0.0) for p in shown]
            ax.errorbar(xs, ys, yerr=errors, color=color, linestyle=linestyle, marker=marker,
                        markersize=4.5, linewidth=1.6, capsize=2.5, elinewidth=1, label=name)

    for ax, title in ((ax_train, _("training accuracy (running mean over the last epoch)")),
                      (ax_test, _("test accuracy (held-out test split)"))):
        ax.set_title(title)
        ax.set_xlabel(stored_text(study["xlabel"]))
        ax.grid(True, alpha=0.3, which="major")
        ax.yaxis.set_major_formatter(PercentFormatter(xmax=100, decimals=0))
        ax.tick_params(labelleft=True)
        _x_axis(ax, study, [json.loads(v) for v in values], categorical)
    ax_train.set_ylabel(_("digits read correctly (mean ± std over seeds)"))

    handles, labels = ax_test.get_legend_handles_labels()
    if not handles:
        handles, labels = ax_train.get_legend_handles_labels()
    legend_title = " / ".join(_(SERIES_KEYS.get(k, k)) for k in study["series_keys"]) or None
    fig.legend(handles, labels, loc="lower center", ncol=min(len(labels), 4) or 1,
               title=legend_title, frameon=False, fontsize=9, title_fontsize=9)
    fig.suptitle(stored_text(study["title"]), fontsize=13, y=0.99)
    fig.text(0.5, 0.925, _subtitle(study, seeds), ha="center", fontsize=9, color="0.3")
    rows = math.ceil(len(labels) / 4) if labels else 0
    bottom = 0.13 + 0.045 * rows
    if study["failed"]:
        failed = ngettext("{failed} of {n} trial failed (e.g. diverged) and is left out of "
                          "the means", "{failed} of {n} trials failed (e.g. diverged) and are "
                          "left out of the means", study["trials"])
        fig.text(0.01, 0.01, failed.format(failed=study["failed"], n=study["trials"]),
                 fontsize=8, color="tab:red")
    fig.subplots_adjust(left=0.07, right=0.985, top=0.84, bottom=bottom, wspace=0.12)
    return save_figure(fig, path, dpi=DPI)


def _subtitle(study: dict[str, Any], seeds: int | None) -> str:
    """The fixed setup in words: batch size, output and loss, epochs, training images."""
    fixed = study.get("fixed", {})
    parts = []
    if seeds:
        parts.append(_("mean ± std over seeds ({seeds})").format(seeds=seeds))
    if "batch_size" in fixed:
        parts.append(_("batch size {size}").format(size=fixed["batch_size"]))
    if fixed.get("output_activation") == "softmax" and fixed.get("loss") == "ce":
        parts.append(_("softmax + cross-entropy"))
    if "hidden" in fixed and study["parameter"] not in ("layers", "neurons"):
        widths = "-".join(str(n) for n in fixed["hidden"])
        parts.append(_("hidden layers {widths}").format(widths=widths) if widths
                     else _("no hidden layer"))
    if "epochs" in fixed and not study["per_epoch"]:
        parts.append(ngettext("{n} epoch", "{n} epochs", fixed["epochs"]).format(
            n=fixed["epochs"]))
    if fixed.get("max_train_samples"):
        parts.append(_("the first {n} training images").format(
            n=number(fixed["max_train_samples"])))
    if "dataset" in fixed:
        parts.append(str(fixed["dataset"]))
    return ", ".join(parts)


def _style(series_values: dict[str, Any], index: int) -> tuple[str, str, str]:
    """(colour, line style, marker) of a series."""
    activation = series_values.get("activation")
    optimizer = series_values.get("optimizer")
    if set(series_values) == {"activation", "optimizer"} and activation in ACTIVATION_COLORS:
        linestyle, marker = OPTIMIZER_STYLES.get(optimizer, ("-", "o"))
        return ACTIVATION_COLORS[activation], linestyle, marker
    return f"C{index % 10}", "-", MARKERS[index % len(MARKERS)]


def _positions(values: list[Any], categorical: bool) -> dict[str, float]:
    """x position of each value: itself, or its index for categorical values."""
    return {json.dumps(v): (float(i) if categorical else float(v)) for i, v in enumerate(values)}


def _dodges(positions: dict[str, float], n_series: int, log: bool):
    """One x shift per series (a function of x), spreading series around each point."""
    xs = sorted(set(positions.values()))
    if log:
        xs = [math.log(x) for x in xs]
    gaps = [b - a for a, b in zip(xs[:-1], xs[1:], strict=True) if b > a]
    step = DODGE * (min(gaps) if gaps else 1.0) / max(n_series - 1, 1)

    def shift(index: int):
        offset = (index - (n_series - 1) / 2) * step
        return (lambda x: x * math.exp(offset)) if log else (lambda x: x + offset)

    return [shift(i) for i in range(n_series)]


def _x_axis(ax, study: dict[str, Any], values: list[Any], categorical: bool) -> None:
    if categorical:
        ax.xaxis.set_major_locator(FixedLocator(range(len(values))))
        ax.set_xticklabels([format_value(v) for v in values])
        return
    if study["log_x"]:
        ax.set_xscale("log")
        if study["parameter"] == "neurons" or all(float(v).is_integer() for v in values):
            ax.xaxis.set_major_locator(FixedLocator(values))
            ax.set_xticklabels([format_value(v) for v in values])
            ax.xaxis.set_minor_locator(NullLocator())
    elif all(float(v).is_integer() for v in values):
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)
