"""Figures: small functions that turn arrays into saved images, one module per subject.

Plot functions take arrays, labels and a path (never an object from a floor above), build a
matplotlib figure and hand it to :func:`save_figure`, which writes it atomically and closes it.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import matplotlib
import numpy as np

from digitlab.fileio import atomic_write
from digitlab.shapes import IMAGE_SHAPE

# Files only: the Agg backend needs no display and draws the same everywhere. Set here, once,
# before any module of this package imports pyplot. A backend chosen on purpose is kept
# (Jupyter's kernel sets MPLBACKEND to its inline one), so that a notebook's own plots still
# show after digitlab has drawn something.
if not os.environ.get("MPLBACKEND"):
    matplotlib.use("Agg")


def save_figure(fig: Any, path: str | os.PathLike, **savefig_kwargs: Any) -> Path:
    """Save a matplotlib figure atomically, then close it; its axes' numbers are written in the
    active language (:func:`digitlab.plots.ticks.localize_ticks`).

    The figure is written to a temporary file with the same suffix in the same folder and renamed
    onto ``path`` only when complete, so a reader never sees a half-written image. The format
    follows the suffix (``.png``, ``.svg``, ``.pdf``...). The figure is closed even on failure.

    Parameters
    ----------
    fig : matplotlib.figure.Figure
        The figure to save.
    path : str or os.PathLike
        Destination; missing parent folders are created.
    **savefig_kwargs
        Passed to ``fig.savefig`` (e.g. ``dpi=150``).

    Returns
    -------
    pathlib.Path
        The path written.
    """
    from digitlab.plots.ticks import localize_ticks

    path = Path(path)
    try:
        localize_ticks(fig)  # numbers on the axes in the active language: "0,5" in Slovenian
        savefig_kwargs.setdefault("format", (path.suffix or ".png")[1:].lower())
        with atomic_write(path, "wb") as handle:
            fig.savefig(handle, **savefig_kwargs)
    finally:
        if "matplotlib.pyplot" in sys.modules:  # figures made with pyplot stay alive until closed
            sys.modules["matplotlib.pyplot"].close(fig)
    return path


def show_digit(ax: Any, image: Any, title: str | None = None, *, vmax: float = 1.0,
               fontsize: float = 8, cmap: str = "gray_r") -> None:
    """One 28 × 28 image, (784,) or (28, 28), without axes: ink dark on light, 0 to ``vmax``."""
    ax.imshow(np.asarray(image).reshape(IMAGE_SHAPE), cmap=cmap, vmin=0.0,
              vmax=max(float(vmax), 1e-6), interpolation="nearest")
    ax.set_xticks([])
    ax.set_yticks([])
    if title:
        ax.set_title(title, fontsize=fontsize, pad=2)


def detached(fig: Any) -> Any:
    """``fig``, no longer tracked by pyplot: a figure a function returns (to a notebook, which
    shows it once, as the cell's value) rather than one pyplot would also show by itself."""
    import matplotlib.pyplot as plt

    plt.close(fig)
    return fig
