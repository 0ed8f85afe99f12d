"""A dream study in a folder: dream the digits, optionally turn a real A into a B, and write the
figures, the dreamed images and ``dream.json``. What ``digitlab dream`` and the report call.

Files written in ``out_dir``:

    dream.png           the dreamed digits above the class means of the training data
    curves.png          E and the target probability over the steps, per digit
    probabilities.png   the final probabilities of every class for every dream
    dreams.npy          the dreamed images (N, 784), float32, rows in the order of ``digits``
    turn.png            "turn A into B" (only with ``turn``): start, change, result
    dream.json          everything measured (schema in :func:`dream_study`)
"""

from __future__ import annotations

import io
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from digitlab.dreaming.core import dream_all, dream_loss, turn_into
from digitlab.dreaming.options import DreamOptions
from digitlab.dreaming.priors import class_means, data_support
from digitlab.dreaming.results import ADVERSARIAL_NOTE, DreamResult, TurnResult
from digitlab.errors import ConfigError, DataError
from digitlab.fileio import atomic_write, write_json
from digitlab.formatting import FigureSpec
from digitlab.i18n import N_
from digitlab.nn.losses import Loss
from digitlab.nn.network import MLP
from digitlab.shapes import N_CLASSES

DREAM_FIGURE = "dream.png"
CURVES_FIGURE = "curves.png"
PROBABILITIES_FIGURE = "probabilities.png"
TURN_FIGURE = "turn.png"
#: the study's figures: key (as in ``dream.json``'s ``files``) -> file name and caption
FIGURES: dict[str, FigureSpec] = {
    "dream": FigureSpec(DREAM_FIGURE, N_("Dreamed digits (top) beside the mean training image "
                                         "of each digit (bottom)")),
    "curves": FigureSpec(CURVES_FIGURE,
                         N_("E and the target probability over the steps of equation (3)")),
    "probabilities": FigureSpec(PROBABILITIES_FIGURE, N_("What the network reads in each "
                                                         "dream: probability of every digit")),
    "turn": FigureSpec(TURN_FIGURE,
                       N_("Turn A into B: a real test image, the change, and the result")),
}
DREAMS_ARRAY = "dreams.npy"
DREAM_JSON = "dream.json"

#: the start kinds a study accepts besides an image array.
STUDY_STARTS = ("black", "noise", "mean")


def dream_study(
    network: MLP,
    out_dir: str | os.PathLike,
    *,
    digits: Sequence[int] = tuple(range(N_CLASSES)),
    start: str | np.ndarray = "black",
    options: DreamOptions | None = None,
    loss: str | Loss | None = None,
    train_images: np.ndarray | None = None,
    train_labels: np.ndarray | None = None,
    support_fraction: float = 0.1,
    turn: tuple[int, int] | None = None,
    test_images: np.ndarray | None = None,
    test_labels: np.ndarray | None = None,
    turn_options: DreamOptions | None = None,
    progress: bool = False,
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Dream ``digits`` and write the figures and ``dream.json`` into ``out_dir``.

    Parameters
    ----------
    network : MLP
    digits : the digits to dream, batched together.
    start : "black", "noise", "mean" (the class mean of each target digit; needs the training
        split) or one image (784,).
    options : DreamOptions (defaults when None); ``turn_options`` likewise for the turn
        (``DreamOptions.turn()`` with the same seed when None).
    train_images, train_labels : the training split (N, 784), (N,); gives the class means
        shown beside the dreams, the "mean" start and the support. Optional for "black",
        "noise" and image starts.
    support_fraction : only pixels lit in at least this share of the training images may light
        up (see :func:`digitlab.dreaming.priors.data_support`); 0 = every pixel.
    turn : (A, B): also change a real test image of A (one the network reads correctly, chosen
        by ``options.seed``) until it reads as B; needs the test split.
    extra : merged into the top level of ``dream.json`` (e.g. the model path, the dataset).

    Returns
    -------
    dict
        The content of ``dream.json``::

            loss, start, options, support {min_fraction, pixels} or null, digits,
            all_converged, min_final_target_probability,
            dreams: [{digit, steps, final_target_probability, final_loss, predicted_digit,
                      converged, loss, persisted_from_step, contrast_gain,
                      final_probabilities[10],
                      loss_curve[steps+1], target_probability_curve[steps+1]}],
            files: {dream, curves, probabilities, images[, turn]},
            turn (with ``turn``): {from_digit, to_digit, test_index, l2_distance, linf_distance,
                  steps, final_probability, start_probability_of_from_digit,
                  final_probability_of_from_digit, predicted_digit, converged,
                  start_probabilities, final_probabilities, adversarial_example: true, note,
                  options, loss_curve, target_probability_curve}
    """
    out_dir = Path(out_dir)
    options = options if options is not None else DreamOptions()
    digits = [int(d) for d in digits]
    has_train = train_images is not None and train_labels is not None
    means = class_means(train_images, train_labels, network.sizes[-1]) if has_train else None
    support = None
    if support_fraction:
        if not has_train:
            raise DataError("the dream's support needs the training images (or support 0)")
        support = data_support(train_images, support_fraction)

    start_array, start_name = _start(start, digits, means)
    results = dream_all(network, digits, start_array, options, loss, support=support,
                        progress=progress)
    chosen_loss = dream_loss(network, loss)

    record: dict[str, Any] = {
        "what": "deep dream (equation (3)): the input is changed instead of the weights, "
                "starting from the start image, until the network reads each digit",
        **(extra or {}),
        "loss": chosen_loss.name,
        "start": start_name,
        "options": options.to_dict(),
        "support": None if support is None else {
            "min_fraction": float(support_fraction), "pixels": int(support.sum())},
        "digits": digits,
        "all_converged": all(r.converged for r in results),
        "min_final_target_probability": min(r.final_target_probability for r in results),
        "dreams": [r.to_dict(curves=True) for r in results],
        "files": {"dream": DREAM_FIGURE, "curves": CURVES_FIGURE,
                  "probabilities": PROBABILITIES_FIGURE, "images": DREAMS_ARRAY},
    }
    write_dream_figures(results, out_dir, means[digits] if means is not None else None,
                        options)
    _save_array(out_dir / DREAMS_ARRAY, np.stack([r.image for r in results]).astype(np.float32))

    if turn is not None:
        if test_images is None or test_labels is None:
            raise DataError("turning a real image into another digit needs the test split")
        turn_options = turn_options if turn_options is not None else DreamOptions.turn(
            seed=options.seed)
        index = pick_test_image(network, test_images, test_labels, turn[0], options.seed)
        result = turn_into(network, test_images[index], turn[1], turn_options, loss,
                           from_digit=turn[0])
        write_turn_figure(result, out_dir / TURN_FIGURE)
        record["turn"] = {**result.to_dict(curves=True), "test_index": int(index),
                          "options": turn_options.to_dict()}
        record["files"]["turn"] = TURN_FIGURE
    write_json(out_dir / DREAM_JSON, record)
    return record


def _start(start, digits: list[int], means: np.ndarray | None) -> tuple[Any, str]:
    """The start for :func:`dream_all` and its name for ``dream.json``."""
    if isinstance(start, str):
        if start == "mean":
            if means is None:
                raise DataError("the 'mean' start needs the training images")
            return means[digits], "mean"
        if start not in STUDY_STARTS:
            raise ConfigError(f"start must be one of {', '.join(STUDY_STARTS)} or an image, "
                              f"got {start!r}")
        return start, start
    return np.asarray(start), "image"


def pick_test_image(
    network: MLP, images: np.ndarray, labels: np.ndarray, digit: int, seed: int = 0
) -> int:
    """Index of a test image of ``digit`` that the network reads correctly, chosen by ``seed``.

    Falls back on any image of ``digit`` when the network reads none of them correctly.
    """
    candidates = np.flatnonzero(np.asarray(labels) == digit)
    if len(candidates) == 0:
        raise DataError(f"the test split holds no image of digit {digit}")
    read = network.classify(images[candidates])
    correct = candidates[read == digit]
    pool = correct if len(correct) else candidates
    return int(np.random.default_rng([seed, digit]).choice(pool))


def write_dream_figures(
    results: Sequence[DreamResult],
    out_dir: str | os.PathLike,
    means: np.ndarray | None = None,
    options: DreamOptions | None = None,
) -> dict[str, Path]:
    """dream.png, curves.png and probabilities.png for a list of dreams; returns the paths."""
    from digitlab.plots.dream import plot_dream_curves, plot_dream_grid, plot_dream_probabilities

    out_dir = Path(out_dir)
    digits = [r.digit for r in results]
    return {
        "dream": plot_dream_grid(
            digits, np.stack([r.image for r in results]),
            [r.final_target_probability for r in results], out_dir / DREAM_FIGURE, means),
        "curves": plot_dream_curves(
            digits, [r.losses for r in results], [r.target_probabilities for r in results],
            out_dir / CURVES_FIGURE, loss_name=results[0].loss_name,
            persisted_from=[r.persisted_from for r in results],
            stop_probability=options.stop_probability if options is not None else None),
        "probabilities": plot_dream_probabilities(
            digits, np.stack([r.probabilities for r in results]),
            out_dir / PROBABILITIES_FIGURE),
    }


def write_turn_figure(result: TurnResult, path: str | os.PathLike) -> Path:
    """turn.png for a :class:`TurnResult` (an adversarial example; the figure says so)."""
    from digitlab.plots.dream import plot_turn

    return plot_turn(result.start, result.image, result.start_probabilities,
                     result.probabilities, result.from_digit, result.to_digit, path,
                     steps=result.steps)


def _save_array(path: Path, array: np.ndarray) -> None:
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=False)
    with atomic_write(path, "wb") as handle:
        handle.write(buffer.getvalue())


__all__ = [
    "ADVERSARIAL_NOTE", "CURVES_FIGURE", "DREAMS_ARRAY", "DREAM_FIGURE", "DREAM_JSON",
    "PROBABILITIES_FIGURE", "STUDY_STARTS", "TURN_FIGURE", "dream_study", "pick_test_image",
    "write_dream_figures", "write_turn_figure",
]
