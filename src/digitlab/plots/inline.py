"""Figures and tables for Jupyter: what the results' ``_repr_png_`` / ``_repr_html_`` return.

A notebook shows an object by calling its ``_repr_html_`` (or ``_repr_png_``); these helpers turn
a matplotlib figure into PNG bytes or an ``<img>`` tag, and a confusion matrix into an HTML
table shaded by its counts. The figure is closed afterwards, so nothing leaks into pyplot's state.
"""

from __future__ import annotations

import base64
import html
import io
import math
from collections.abc import Sequence
from typing import Any

import numpy as np


def figure_png(fig: Any, dpi: int = 90) -> bytes:
    """The PNG bytes of a matplotlib figure (which is then closed)."""
    import matplotlib.pyplot as plt

    from digitlab.plots.ticks import localize_ticks

    buffer = io.BytesIO()
    try:
        localize_ticks(fig)
        fig.savefig(buffer, format="png", dpi=dpi, bbox_inches="tight")
    finally:
        plt.close(fig)
    return buffer.getvalue()


def figure_html(fig: Any, dpi: int = 90, alt: str = "figure") -> str:
    """An ``<img>`` tag holding the figure as an inline PNG."""
    data = base64.b64encode(figure_png(fig, dpi)).decode("ascii")
    return f'<img alt="{html.escape(alt)}" src="data:image/png;base64,{data}"/>'


def confusion_html(confusion: np.ndarray, per_digit_accuracy: Sequence[float] | None = None,
                   caption: str = "") -> str:
    """A (K, K) confusion matrix as an HTML table, rows = true digit, cells shaded by share.

    Diagonal cells (correct readings) are shaded green, the others red, each by its share of
    its row; a last column gives the per-digit accuracy when given.
    """
    confusion = np.asarray(confusion)
    totals = confusion.sum(axis=1)
    head = "".join(f"<th>{j}</th>" for j in range(confusion.shape[1]))
    extra_head = "<th>accuracy</th>" if per_digit_accuracy is not None else ""
    rows = []
    for i, row in enumerate(confusion):
        cells = []
        for j, count in enumerate(row):
            share = count / totals[i] if totals[i] else 0.0
            colour = (f"rgba(46,160,67,{share:.2f})" if i == j
                      else f"rgba(215,58,73,{min(1.0, 4 * share):.2f})")
            cells.append(f'<td style="background:{colour};text-align:right">{int(count)}</td>')
        if per_digit_accuracy is not None:
            value = float(per_digit_accuracy[i])
            cells.append(f"<td>{'-' if math.isnan(value) else f'{value:.1%}'}</td>")
        rows.append(f"<tr><th>{i}</th>{''.join(cells)}</tr>")
    caption_html = f"<caption>{html.escape(caption)}</caption>" if caption else ""
    return (f'<table class="digitlab-confusion">{caption_html}<thead><tr><th>true \\ read</th>'
            f"{head}{extra_head}</tr></thead><tbody>{''.join(rows)}</tbody></table>")


def key_value_html(title: str, rows: Sequence[tuple[str, Any]]) -> str:
    """A small two-column table under a bold title."""
    body = "".join(f"<tr><th style='text-align:left'>{html.escape(str(k))}</th>"
                   f"<td style='text-align:left'>{html.escape(str(v))}</td></tr>"
                   for k, v in rows)
    return f"<div><b>{html.escape(title)}</b><table>{body}</table></div>"
