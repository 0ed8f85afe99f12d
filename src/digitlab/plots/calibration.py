"""Reliability diagrams: how often the network is right at each confidence, before and after
temperature scaling (see :mod:`digitlab.calibration`)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.patches import Patch
from matplotlib.ticker import PercentFormatter

from digitlab.i18n import N_, domain, number, percent
from digitlab.plots import detached, save_figure

_ = domain("report").gettext

DPI = 110
TITLE = N_("Reliability of the network's confidence")
BAR_COLOR, GAP_COLOR = "tab:blue", "tab:red"


def plot_reliability(reliability_before: Any, reliability_after: Any | None,
                     path: str | os.PathLike, title: str = TITLE,
                     temperature: float | None = None) -> Path:
    """Save :func:`reliability_figure` to ``path``; return the path."""
    figure = reliability_figure(reliability_before, reliability_after, title, temperature)
    return save_figure(figure, path, dpi=DPI)


def reliability_figure(reliability_before: Any, reliability_after: Any | None = None,
                       title: str = TITLE, temperature: float | None = None):
    """Reliability diagrams side by side: before calibration, and after it (if given).

    Each panel draws, per equal-width confidence bin of a
    :class:`~digitlab.calibration.Reliability`, a bar up to the bin's accuracy, the diagonal
    accuracy = confidence of a perfectly calibrated network, and, shaded, the gap between each
    bar and the bin's mean confidence; the legend gives the ECE. ``temperature`` names the T of
    the second panel.
    """
    panels = [(reliability_before, _("before calibration (T = 1)"))]
    if reliability_after is not None:
        after = _("after temperature scaling")
        if temperature is not None:
            after = _("after temperature scaling (T = {t})").format(t=number(temperature, 2))
        panels.append((reliability_after, after))
    fig, axes = plt.subplots(1, len(panels), figsize=(5.2 * len(panels), 5.2), squeeze=False)
    for ax, (rel, subtitle) in zip(axes[0], panels, strict=True):
        _draw_panel(ax, rel, subtitle)
    axes[0][0].set_ylabel(_("accuracy (share read correctly)"))
    if title:
        fig.suptitle(_(title))
    fig.tight_layout()
    return detached(fig)


def _draw_panel(ax: Any, rel: Any, subtitle: str) -> None:
    edges = np.asarray(rel.edges, dtype=float)
    lower, width = edges[:-1], np.diff(edges)
    filled = np.asarray(rel.count) > 0
    accuracy = np.where(filled, rel.accuracy, 0.0)
    confidence = np.where(filled, rel.confidence, 0.0)
    ax.bar(lower[filled], accuracy[filled], width=width[filled], align="edge",
           color=BAR_COLOR, edgecolor="black", linewidth=0.6)
    gap_bottom = np.minimum(accuracy, confidence)[filled]
    gap_height = np.abs(confidence - accuracy)[filled]
    ax.bar(lower[filled], gap_height, bottom=gap_bottom, width=width[filled], align="edge",
           color=GAP_COLOR, alpha=0.3, edgecolor=GAP_COLOR, hatch="//", linewidth=0.6)
    ax.plot([0, 1], [0, 1], ls="--", color="grey", lw=1)
    ece = rel.ece
    ece_text = percent(ece if np.isfinite(ece) else None, 2)
    handles = [
        Patch(facecolor=BAR_COLOR, edgecolor="black",
              label=_("accuracy (ECE {ece})").format(ece=ece_text)),
        Patch(facecolor=GAP_COLOR, alpha=0.3, edgecolor=GAP_COLOR, hatch="//",
              label=_("gap to the mean confidence")),
        plt.Line2D([], [], ls="--", color="grey", label=_("perfect calibration")),
    ]
    ax.legend(handles=handles, loc="upper left", fontsize=8)
    ax.set(xlim=(0, 1), ylim=(0, 1), xlabel=_("confidence (largest probability)"),
           title=_("{panel}, {n} digits").format(panel=subtitle, n=number(rel.n)))
    ax.title.set_fontsize(10)
    for axis in (ax.xaxis, ax.yaxis):
        axis.set_major_formatter(PercentFormatter(xmax=1.0))
    ax.set_aspect("equal")
    ax.grid(True, alpha=0.3)
