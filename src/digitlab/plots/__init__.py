"""Figures: small functions that turn arrays into saved images, one module per subject.

Plot functions take arrays and a path, build a matplotlib figure and hand it to
:func:`save_figure`, which writes it atomically and closes it.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

from digitlab.fileio import atomic_write


def save_figure(fig: Any, path: str | os.PathLike, **savefig_kwargs: Any) -> Path:
    """Save a matplotlib figure atomically, then close it.

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
    path = Path(path)
    try:
        savefig_kwargs.setdefault("format", (path.suffix or ".png")[1:].lower())
        with atomic_write(path, "wb") as handle:
            fig.savefig(handle, **savefig_kwargs)
    finally:
        if "matplotlib.pyplot" in sys.modules:  # figures made with pyplot stay alive until closed
            sys.modules["matplotlib.pyplot"].close(fig)
    return path
