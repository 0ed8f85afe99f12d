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


def show_digit_row(ax: Any, images: Any, captions: Any = None, *, columns: int | None = None,
                   cmap: str = "gray_r", fontsize: float = 8, gap: int = 6,
                   frame: bool = True) -> None:
    """Images (n, 784) side by side in one axes, each framed (``frame``) as :func:`show_digit`
    frames one and captioned above, 0 to 1; ``columns`` (≥ n) keeps room for that many.

    One picture instead of n axes: a figure of a hundred small axes takes seconds to build and
    lay out, one of a few rows a fraction of that, and looks the same.
    """
    from matplotlib.patches import Rectangle

    images = np.asarray(images, dtype=np.float64).reshape(-1, *IMAGE_SHAPE)
    n, side = len(images), IMAGE_SHAPE[1]
    columns = max(n, columns or n)
    width = columns * side + (columns - 1) * gap
    strip = np.full((IMAGE_SHAPE[0], width), np.nan)  # NaN: the paper between the images
    for i, image in enumerate(images):
        strip[:, i * (side + gap):i * (side + gap) + side] = image
    colors = matplotlib.colormaps[cmap].with_extremes(bad=(1.0, 1.0, 1.0, 0.0))
    ax.imshow(np.ma.masked_invalid(strip), cmap=colors, vmin=0.0, vmax=1.0,
              interpolation="nearest")
    ax.set_xlim(-0.5, width - 0.5)
    ax.set_ylim(IMAGE_SHAPE[0] - 0.5, -0.5)
    ax.set_axis_off()
    for i in range(n):
        left = i * (side + gap) - 0.5
        if frame:
            ax.add_patch(Rectangle((left, -0.5), side, IMAGE_SHAPE[0], fill=False,
                                   edgecolor="black", linewidth=0.8, clip_on=False))
        if captions is not None:
            ax.text(left + side / 2, -1.5, captions[i], ha="center", va="bottom",
                    fontsize=fontsize)
