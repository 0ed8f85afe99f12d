"""Tick labels in the figure's language: ``0,5`` and ``90 %`` in Slovenian, ``0.5`` and ``90%`` in
English.

matplotlib writes the numbers of an axis with its formatters (``ScalarFormatter`` by default,
``PercentFormatter`` where a plot asks for it), always with a decimal point. Its own way to follow
a language (``axes.formatter.use_locale``) reads the process locale, which a library must not
set. :func:`localize_ticks` instead wraps those formatters of a figure in
:class:`LanguageFormatter`, which keeps the labels matplotlib chooses (the same ticks, the same
digits) and writes them with the decimal sign of the language (:mod:`babel`, as
:func:`digitlab.i18n.number` does) and, where the language puts one, a space before the per cent
sign. :func:`digitlab.plots.save_figure` calls it, so every figure drawn inside an
``i18n.language("sl")`` block (the report's) is saved with Slovenian numbers; in English nothing
is changed.
"""

from __future__ import annotations

from typing import Any

from matplotlib.ticker import Formatter, PercentFormatter, ScalarFormatter

from digitlab.i18n import PERCENT_SPACE, SOURCE_LANGUAGE, active_language

#: the number formatters whose labels are rewritten; others (fixed text, dates) are left alone
NUMBER_FORMATTERS = (ScalarFormatter, PercentFormatter)


class LanguageFormatter(Formatter):
    """An axis formatter that writes ``inner``'s labels with ``decimal_sign`` and a space before
    the per cent sign (``"92,5 %"`` for ``"92.5%"``, as :func:`digitlab.i18n.percent` writes
    it); ticks, digits and offset stay ``inner``'s."""

    def __init__(self, inner: Formatter, decimal_sign: str) -> None:
        self.inner, self.decimal_sign = inner, decimal_sign

    def _written(self, label: str) -> str:
        # in mathtext ("$0.5$") a bare comma is punctuation and gets a space after it
        sign = "{" + self.decimal_sign + "}" if label.startswith("$") else self.decimal_sign
        label = label.replace(".", sign)
        for percent_sign in ("\\%", "%"):  # TeX and mathtext escape it
            if label.endswith(percent_sign) and not label.endswith(" " + percent_sign):
                return label[:-len(percent_sign)] + PERCENT_SPACE + percent_sign
        return label

    def __call__(self, x: float, pos: int | None = None) -> str:
        return self._written(self.inner(x, pos))

    def format_ticks(self, values: Any) -> list[str]:
        return [self._written(label) for label in self.inner.format_ticks(values)]

    def format_data_short(self, value: float) -> str:
        return self._written(self.inner.format_data_short(value))

    def get_offset(self) -> str:
        return self._written(self.inner.get_offset())

    def set_locs(self, locs: Any) -> None:
        self.inner.set_locs(locs)

    def set_axis(self, axis: Any) -> None:
        super().set_axis(axis)
        self.inner.set_axis(axis)

    def create_dummy_axis(self, **kwargs: Any) -> None:
        super().create_dummy_axis(**kwargs)
        self.inner.axis = self.axis


def localize_ticks(fig: Any, lang: str | None = None) -> None:
    """Make the number tick labels of every axis of ``fig`` speak ``lang`` (None: the active
    language); English, and a language that writes numbers as English does, change nothing."""
    from babel.numbers import get_decimal_symbol

    lang = lang or active_language()
    if lang == SOURCE_LANGUAGE:
        return
    sign = get_decimal_symbol(lang)
    for ax in fig.axes:
        for axis in (ax.xaxis, ax.yaxis):
            for get, put in ((axis.get_major_formatter, axis.set_major_formatter),
                             (axis.get_minor_formatter, axis.set_minor_formatter)):
                formatter = get()
                if isinstance(formatter, NUMBER_FORMATTERS):
                    put(LanguageFormatter(formatter, sign))
