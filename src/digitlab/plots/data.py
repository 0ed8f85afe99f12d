"""Figures of the data itself: a grid of example images, one row per class."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure

from digitlab.plots import save_figure, show_digit_row
from digitlab.shapes import IMAGE_SHAPE


def plot_digit_grid(
    images: np.ndarray,
    labels: np.ndarray,
    class_names: Sequence[str],
    per_digit: int,
    path: str | os.PathLike,
) -> Path:
    """Save :func:`digit_grid_figure` to ``path`` (format from the suffix); return the path."""
    return save_figure(digit_grid_figure(images, labels, class_names, per_digit), path, dpi=100)


def digit_grid_figure(
    images: np.ndarray,
    labels: np.ndarray,
    class_names: Sequence[str],
    per_digit: int,
) -> Figure:
    """A grid of the first ``per_digit`` examples of each class, one row per class.

    Parameters
    ----------
    images : numpy.ndarray of shape (N, 784) or (N, 28, 28)
        Pixel values in [0, 1] (white is 1: drawn dark on a light background).
    labels : numpy.ndarray of shape (N,)
        Class of each image, 0..len(class_names)-1.
    class_names : sequence of str
        Row labels, indexed by class.
    per_digit : int
        Columns: examples shown per class (fewer if a class has fewer; the rest stay blank).

    Returns
    -------
    matplotlib.figure.Figure
    """
    if per_digit < 1:
        raise ValueError(f"per_digit must be >= 1, got {per_digit}")
    images = np.asarray(images).reshape(len(images), *IMAGE_SHAPE)  # (N, 784) -> (N, 28, 28)
    labels = np.asarray(labels)
    n_rows = len(class_names)
    label_inches = 0.3 + 0.07 * max(len(name) for name in class_names)  # room for row labels
    width = 0.6 * per_digit + label_inches
    fig, axes = plt.subplots(n_rows, 1, figsize=(width, 0.6 * n_rows + 0.2), squeeze=False)
    for row, (ax, name) in enumerate(zip(axes[:, 0], class_names, strict=True)):
        examples = np.flatnonzero(labels == row)[:per_digit]
        show_digit_row(ax, images[examples], columns=per_digit, gap=2, frame=False)
        ax.text(-0.01, 0.5, name, ha="right", va="center", fontsize=9, transform=ax.transAxes)
    fig.subplots_adjust(left=label_inches / width, right=0.99, top=0.99, bottom=0.01,
                        hspace=0.05)
    return fig
