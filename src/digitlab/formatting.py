"""Results as people and JSON files read them: one place for the small conversions.

- :func:`pct` — a share as a percentage, ``0.912 -> "91.2 %"``;
- :func:`format_value` — a config value as a short label, ``[256, 128] -> "256,128"``;
- :func:`finite_or_none` / :func:`to_json` — NaN and infinities as None (JSON's null), NumPy
  numbers and arrays as plain Python;
- :class:`FigureSpec` — a figure's file name and caption, kept together where it is made
  (here rather than in :mod:`digitlab.plots`, so that naming a figure does not load matplotlib).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class FigureSpec:
    """A figure's file name and its written caption, kept together where the figure is made."""

    file: str  # e.g. "confusion_matrix.png", relative to the folder the figure is drawn into
    caption: str  # one sentence saying what the figure shows, as the report prints it


def pct(share: float | None, digits: int = 1) -> str:
    """0.912 -> '91.2 %'; None -> 'n/a'."""
    return "n/a" if share is None else f"{100 * share:.{digits}f} %"


def format_value(value: Any) -> str:
    """A short label for a config value: ``[256, 128]`` -> ``"256,128"``, ``1e-05`` -> ``1e-05``."""
    if isinstance(value, list):
        return ",".join(str(v) for v in value) or "none"
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def finite_or_none(value: float) -> float | None:
    """A float, or None when it is NaN or infinite."""
    value = float(value)
    return value if math.isfinite(value) else None


def to_json(value: Any) -> Any:
    """``value`` with NumPy numbers and arrays made plain and NaN or infinite floats made None.

    NumPy is imported here, not above: the config's labels (:func:`format_value`) load without it.
    """
    import numpy as np

    if isinstance(value, dict):
        return {str(k): to_json(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_json(v) for v in value]
    if isinstance(value, np.ndarray):
        return to_json(value.tolist())
    if isinstance(value, (np.integer, np.bool_)):
        return value.item()
    if isinstance(value, (float, np.floating)):
        return finite_or_none(value)
    return value
