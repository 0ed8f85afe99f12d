"""Not a digit: what the network answers to images that hold none, against real digits.

The out-of-distribution score is the top probability (higher = more digit-like, the
``max_probability`` score of :mod:`digitlab.analysis.ood`). Its reference is the same score on
the run's own test digits; the threshold is their 5th percentile, so 95 % of real digits score
above it and an image below it is flagged as probably not a digit. Kinds and scores are named
in the request's language (:data:`KIND_TITLES`).
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np

from digitlab.analysis.nondigits import (
    KINDS,
    SHIFT_PIXELS,
    NonDigitKind,
    generate,
    load_fashion_images,
)
from digitlab.calibration import calibration_fields
from digitlab.errors import DataError
from digitlab.serve.errors import ApiError
from digitlab.serve.language import N_, _
from digitlab.serve.models import LoadedModel

REFERENCE_POINTS = 200  # real-digit scores sent as reference (quantiles when there are more)
THRESHOLD_PERCENTILE = 5.0
MAX_IMAGES = 64
SCORE_NAME = N_("top probability")
#: each kind's title as the page shows it (in English the title of ``KINDS``)
KIND_TITLES = {
    "uniform_noise": N_("uniform noise"),
    "gaussian_noise": N_("Gaussian noise"),
    "all_black": N_("all black"),
    "all_white": N_("all white"),
    "checkerboard": N_("checkerboard"),
    "lines_and_shapes": N_("lines and shapes"),
    "letters": N_("letters A–Z"),
    "drawn_letters": N_("drawn letters A–Z"),
    "inverted_digits": N_("inverted digits"),
    "rotated_90": N_("digits rotated 90°"),
    "rotated_180": N_("digits rotated 180°"),
    "shifted_digits": N_("digits shifted {pixels} px"),
    "fashion_mnist": N_("Fashion-MNIST"),
}


@functools.lru_cache(maxsize=1)
def _fashion() -> np.ndarray | None:
    try:
        return load_fashion_images()
    except DataError:
        return None


def title(kind: NonDigitKind) -> str:
    """The kind's title in the active language (its own title where the lab has none)."""
    return _(KIND_TITLES.get(kind.name, kind.title)).format(pixels=SHIFT_PIXELS)


def kinds() -> list[dict[str, Any]]:
    """The non-digit kinds of ``digitlab analyze`` that can be made here."""
    return [{"name": kind.name, "description": title(kind)} for kind in KINDS.values()
            if kind.source != "fashion" or _fashion() is not None]


def real_scores(model: LoadedModel) -> np.ndarray:
    """The score of every real test digit (N,), sorted ascending (cached)."""
    test = model.test_split()
    if "scores" not in test:
        test["scores"] = np.sort(test["probabilities"].max(axis=1).astype(np.float64))
    return test["scores"]


def reference(model: LoadedModel) -> dict[str, Any]:
    """The real test digits' scores (at most :data:`REFERENCE_POINTS` quantiles) and the
    threshold drawn among them: the model's own "not a digit" threshold where its calibration
    has one (``hidden_test``: its first hidden layer decides too), else the score below which
    :data:`THRESHOLD_PERCENTILE` % of the real digits fall."""
    scores = real_scores(model)
    shown = scores if len(scores) <= REFERENCE_POINTS else \
        np.quantile(scores, np.linspace(0.0, 1.0, REFERENCE_POINTS))
    own = None if model.calibration is None else model.calibration.threshold
    return {"real_digit_scores": shown.tolist(),
            "threshold": float(np.percentile(scores, THRESHOLD_PERCENTILE)) if own is None
            else float(own),
            "hidden_test": own is not None and model.calibration.hidden is not None,
            "score_name": _(SCORE_NAME), "n": int(len(scores))}


def probe(model: LoadedModel, kind: str, n: int, seed: int) -> dict[str, Any]:
    """``n`` images of ``kind`` with the network's answers and the real digits' reference."""
    if kind not in KINDS:
        raise ApiError(404, _("unknown non-digit kind {kind!r}; expected one of {kinds}")
                       .format(kind=kind[:60], kinds=", ".join(KINDS)))
    if not 1 <= n <= MAX_IMAGES:
        raise ApiError(422, _("{name!r} must be between {low} and {high}, got {value}").format(
            name="n", low=1, high=MAX_IMAGES, value=n))
    if seed < 0:
        raise ApiError(422, _("{name!r} must be >= {low}, got {value}").format(
            name="seed", low=0, value=seed))
    source = None
    if KINDS[kind].source == "digits":
        images = model.test_split()["images"]
        rows = np.random.default_rng([seed, 1]).choice(len(images), size=n,
                                                       replace=n > len(images))
        source = images[rows]
    elif KINDS[kind].source == "fashion":
        source = _fashion()
        if source is None:
            raise ApiError(409, _("Fashion-MNIST is not available here: `digitlab data "
                                  "download fashion-mnist` fetches it"))
    images = generate(kind, n, np.random.default_rng([seed, 0]), source)  # (n, 784)
    probabilities, digit_like = _read(model, images)  # (n, 10), (n,)
    return {"kind": kind, "model": model.entry.id,
            "images": np.round(images.astype(np.float64), 4).tolist(),
            "answers": [{"digit": int(p.argmax()), "probabilities": p.tolist(),
                         "score": float(p.max()), "is_digit": bool(ok)}
                        for p, ok in zip(probabilities, digit_like, strict=True)],
            "reference": reference(model), **calibration_fields(model.calibration)}


def _read(model: LoadedModel, images: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The probabilities (n, 10), float64, of raw images (n, 784) as the model reads them, and
    whether its own "not a digit" tests (its calibration's threshold and hidden-layer test)
    pass each (n,) bool — always, for a model without them; one forward pass."""
    if model.calibration is None:
        probabilities = model.reader.probabilities(images)
        return probabilities.astype(np.float64), np.ones(len(images), dtype=bool)
    probabilities, digit_like = model.calibration.decide(model.reader.model, images)
    return probabilities.astype(np.float64), digit_like


def ood(model: LoadedModel, image: np.ndarray) -> dict[str, Any]:
    """One image's score, answer and ``percentile``: the share (in %) of real test digits that
    score lower."""
    rows, digit_like = _read(model, image.reshape(1, -1))
    probabilities = rows[0]
    score = float(probabilities.max())
    scores = real_scores(model)
    percentile = 100.0 * float(np.searchsorted(scores, score, side="left")) / max(len(scores), 1)
    return {"model": model.entry.id, "score": score, "digit": int(probabilities.argmax()),
            "probabilities": probabilities.tolist(), "reference": reference(model),
            "percentile": percentile,
            "is_digit": bool(digit_like[0]),
            **calibration_fields(model.calibration)}
