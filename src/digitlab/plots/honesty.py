"""Figures of "does it know what it doesn't know?": how sure each network is on real digits and
on each kind of non-digit image, what it answers to each letter, and dreams of several networks
side by side."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.ticker import PercentFormatter

from digitlab.data.outliers import relation_name
from digitlab.i18n import domain, percent
from digitlab.plots import detached, save_figure, show_digit

_ = domain("report").gettext

DPI = 110
#: the background band of each relation of a kind to the outliers trained on
RELATION_SHADES = {"digits": "0.85", "trained": "#d9ead3", "related": "#fff2cc",
                   "unseen": "#f4cccc"}


def plot_confidence_by_kind(medians: dict[str, dict[str, float]], relations: dict[str, str],
                            path: str | os.PathLike) -> Path:
    """Save :func:`confidence_by_kind_figure` to ``path``; return the path."""
    return save_figure(confidence_by_kind_figure(medians, relations), path, dpi=DPI)


def confidence_by_kind_figure(medians: dict[str, dict[str, float]], relations: dict[str, str]):
    """Horizontal bars: for each input (rows: real digits first, then the non-digit kinds sorted
    by their relation "trained", "related", "unseen") the median top probability of each
    network (``medians``: network -> input title -> median). ``relations``: kind title ->
    relation; a row not in it (the real digits) gets the band "digits"."""
    networks = list(medians)
    inputs = list(next(iter(medians.values())))
    order = {"trained": 1, "related": 2, "unseen": 3}
    inputs.sort(key=lambda title: order.get(relations.get(title, "digits"), 0))
    height = 0.8 / len(networks)
    fig, ax = plt.subplots(figsize=(9.0, 0.5 * len(inputs) + 1.9))
    for row, title in enumerate(inputs):
        relation = relations.get(title, "digits")
        ax.axhspan(row - 0.5, row + 0.5, color=RELATION_SHADES[relation], zorder=0)
    for i, (network, colour) in enumerate(zip(networks, plt.cm.tab10.colors, strict=False)):
        y = np.arange(len(inputs)) - 0.4 + (i + 0.5) * height
        values = [medians[network][title] for title in inputs]
        ax.barh(y, values, height=height, color=colour,
                label=_("{network} network").format(network=network), zorder=2)
    ax.set_yticks(np.arange(len(inputs)))
    ax.set_yticklabels([title if title not in relations
                        else f"{title} ({relation_name(relations[title])})"
                        for title in inputs], fontsize=8)
    ax.set_ylim(len(inputs) - 0.5, -0.5)  # the first input on top
    ax.axvline(0.1, color="grey", ls=":", lw=1, zorder=1, label=_("1/10: no idea"))
    ax.set(xlim=(0, 1), xlabel=_("median top probability (how sure the answer is)"),
           title=_("How sure each network is, on digits and on what is not a digit"))
    ax.xaxis.set_major_formatter(PercentFormatter(xmax=1.0))
    handles, labels = ax.get_legend_handles_labels()
    fig.legend(handles, labels, fontsize=8, loc="lower center", ncol=len(labels), frameon=False)
    ax.grid(True, axis="x", alpha=0.3, zorder=1)
    fig.tight_layout(rect=(0, 0.04, 1, 1))
    return detached(fig)


def plot_dream_rows(digits: Sequence[int], rows: dict[str, np.ndarray],
                    path: str | os.PathLike,
                    title: str | None = None) -> Path:
    """Save :func:`dream_rows_figure` to ``path``; return the path."""
    return save_figure(dream_rows_figure(digits, rows, title), path, dpi=DPI)


def dream_rows_figure(digits: Sequence[int], rows: dict[str, np.ndarray],
                      title: str | None = None):
    """One row of dreams (D, 784) per network (``rows``: label -> dreams), one column per digit;
    each image drawn from 0 to its own brightest pixel. ``title`` defaults to "Dreams from a
    black image (equation (3))" in the active language."""
    title = title or _("Dreams from a black image (equation (3))")
    n = len(digits)
    fig, axes = plt.subplots(len(rows), n, figsize=(max(1.2 * n + 1.2, 7.0),
                                                    1.45 * len(rows) + 0.9), squeeze=False)
    for i, (label, dreams) in enumerate(rows.items()):
        for j, digit in enumerate(digits):
            image = np.asarray(dreams[j])
            show_digit(axes[i, j], image, vmax=float(image.max()), title=str(digit),
                       fontsize=8)
        axes[i, 0].set_ylabel(label.replace(" ", "\n", 1), fontsize=9)
    fig.suptitle(title, fontsize=11)
    fig.text(0.5, 0.015, _("each image drawn from 0 (white) to its own brightest pixel (black)"),
             ha="center", fontsize=8, color="0.3")
    fig.tight_layout(rect=(0, 0.05, 1, 0.95))
    return detached(fig)


#: letters per row of :func:`letter_answers_figure`
LETTERS_PER_ROW = 13


def plot_letter_answers(letters: np.ndarray, answers: dict[str, dict[str, list]],
                        path: str | os.PathLike) -> Path:
    """Save :func:`letter_answers_figure` to ``path``; return the path."""
    return save_figure(letter_answers_figure(letters, answers), path, dpi=DPI)


def letter_answers_figure(letters: np.ndarray, answers: dict[str, dict[str, list]]):
    """Each letter (``letters`` (26, 784), A–Z) with each network's answer under it, one line
    per network in its colour: "9 · 100 %" (the digit read and its probability) or "not a
    digit". ``answers``: network name -> ``{"digit", "top", "not_digit"}``, lists of 26 (what
    :func:`digitlab.studies.honesty.measure_network` stores under ``"letters"``)."""
    letters = np.asarray(letters)
    n, networks = len(letters), list(answers)
    rows = -(-n // LETTERS_PER_ROW)
    colours = [plt.cm.tab10.colors[i] for i in (0, 3, 2, 1)][:len(networks)]
    line = 0.19  # axes fractions per answer line under an image
    side, title, below, top, bottom = 0.6, 0.22, 0.13 * len(networks), 0.45, 0.35  # inches
    height = top + rows * (side + title + below + 0.08) + bottom
    fig, axes = plt.subplots(rows, LETTERS_PER_ROW, squeeze=False,
                             figsize=(0.78 * LETTERS_PER_ROW, height))
    fig.subplots_adjust(left=0.01, right=0.99, top=1 - (top + title) / height,
                        bottom=(bottom + below) / height,
                        hspace=(title + below + 0.08) / side, wspace=0.15)
    for ax in axes.flat[n:]:
        ax.set_axis_off()
    for i, image in enumerate(letters):
        ax = axes.flat[i]
        show_digit(ax, image, title=chr(ord("A") + i), fontsize=9)
        for j, (network, colour) in enumerate(zip(networks, colours, strict=True)):
            given = answers[network]
            text = (_("not a digit") if given["not_digit"][i] else
                    f"{given['digit'][i]} · {percent(given['top'][i], 0)}")
            ax.text(0.5, -0.1 - line * j, text, transform=ax.transAxes, ha="center", va="top",
                    fontsize=7, color=colour, fontweight="bold" if given["not_digit"][i]
                    else "normal")
    handles = [plt.Line2D([], [], color=c, lw=4) for c in colours]
    fig.legend(handles, [_("{network} network").format(network=name) for name in networks],
               loc="lower center", ncol=len(networks), fontsize=8, frameon=False)
    fig.suptitle(_("What each network answers to a letter"), fontsize=11,
                 y=1 - 0.12 / height, va="top")
    return detached(fig)


def plot_flattening(rows: Sequence[dict], chosen: float, titles: dict[str, str],
                    path: str | os.PathLike) -> Path:
    """Save :func:`flattening_figure` to ``path``; return the path."""
    return save_figure(flattening_figure(rows, chosen, titles), path, dpi=DPI)


def flattening_figure(rows: Sequence[dict], chosen: float, titles: dict[str, str]):
    """Left: the ECE on the test digits; right: the median top probability on each kind
    (``titles``: kind -> its title), both against the share q of flattened answers (``rows``:
    ``{"flatten_below", "ece", "median_top": {kind: value}}``, as
    :func:`digitlab.studies.honesty.flattening_tradeoff` gives them); a dashed line at the
    ``chosen`` q, a dotted one at each target (ECE 2 %, median top probability 0.5)."""
    q = 100 * np.array([row["flatten_below"] for row in rows])
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.2))
    left.plot(q, [100 * row["ece"] for row in rows], "o-", color="tab:blue")
    left.axhline(2.0, color="0.4", ls=":", lw=1)
    left.set_ylabel(_("ECE on the test digits (%)"))
    left.set_ylim(bottom=0)
    for kind, title in titles.items():
        right.plot(q, [row["median_top"][kind] for row in rows], "o-", label=title)
    right.axhline(0.5, color="0.4", ls=":", lw=1)
    right.set_ylabel(_("median top probability"))
    right.set_ylim(0, 1.02)
    right.legend(fontsize=8, loc="best")
    for ax in (left, right):
        ax.axvline(100 * chosen, color="0.3", ls="--", lw=1)
        ax.set_xlabel(_("answers flattened: the least digit-like share of the calibration "
                        "digits"), fontsize=9)
        ax.xaxis.set_major_formatter(PercentFormatter(decimals=0))
    left.set_title(_("What it costs: calibration on real digits"), fontsize=10)
    right.set_title(_("What it buys: doubt on kinds never trained on"), fontsize=10)
    fig.tight_layout()
    return detached(fig)
