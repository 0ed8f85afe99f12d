"""What a dream returns: :class:`DreamResult` (one dreamed image and its curves) and
:class:`TurnResult` ("turn A into B", an adversarial example); what a dream study hands on:
:class:`DreamStudyResult`, the typed form of ``dream.json``."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from digitlab.records import OPTIONAL, Record

#: what every "turn A into B" output says about itself.
ADVERSARIAL_NOTE = (
    "adversarial example: a small change to a real image of one digit that the network reads as "
    "another digit, although a person still sees the original digit"
)


# ---------------------------------------------------------------------------------- results
@dataclass
class DreamResult:
    """One dreamed image and how it got there.

    ``losses`` and ``target_probabilities`` have ``steps + 1`` entries: the start image, then the
    image after each step (measured without jitter); the last is the image returned, after the
    full-contrast scaling where there was one (``contrast_gain``).
    """

    digit: int
    image: np.ndarray  # (784,) the dreamed image
    start: np.ndarray  # (784,) the image the run started from
    steps: int  # steps of equation (3) taken
    losses: np.ndarray  # (steps + 1,) E, the network's loss towards the digit
    target_probabilities: np.ndarray  # (steps + 1,) the network's probability of the digit
    probabilities: np.ndarray  # (10,) final class probabilities
    converged: bool  # a stopping tolerance was reached within the budget
    loss_name: str  # "ce" or "mse"
    persisted_from: int | None = None  # step from which the priors were dropped (None: never)
    contrast_gain: float = 1.0  # the finished image was scaled by this (full_contrast; 1: not)

    @property
    def final_target_probability(self) -> float:
        return float(self.probabilities[self.digit])

    @property
    def predicted_digit(self) -> int:
        return int(np.argmax(self.probabilities))

    def to_dict(self, curves: bool = True) -> dict[str, Any]:
        """JSON-ready summary (the image itself is left out)."""
        record = {
            "digit": self.digit,
            "steps": self.steps,
            "final_target_probability": self.final_target_probability,
            "final_loss": float(self.losses[-1]),
            "predicted_digit": self.predicted_digit,
            "converged": self.converged,
            "loss": self.loss_name,
            "persisted_from_step": self.persisted_from,
            "contrast_gain": float(self.contrast_gain),
            "final_probabilities": [float(p) for p in self.probabilities],
        }
        if curves:
            record["loss_curve"] = [float(v) for v in self.losses]
            record["target_probability_curve"] = [float(v) for v in self.target_probabilities]
        return record


@dataclass
class TurnResult:
    """"Turn A into B": a real image of ``from_digit`` changed until it reads as ``to_digit``.

    This is an adversarial example (see :data:`ADVERSARIAL_NOTE`).
    """

    from_digit: int
    to_digit: int
    start: np.ndarray  # (784,) the real image
    image: np.ndarray  # (784,) the changed image
    start_probabilities: np.ndarray  # (10,)
    dream: DreamResult  # the run itself (curves, steps, final probabilities)
    note: str = field(default=ADVERSARIAL_NOTE)

    @property
    def change(self) -> np.ndarray:
        """(784,) image − start: what was added (positive) and removed (negative)."""
        return self.image - self.start

    @property
    def l2_distance(self) -> float:
        return float(np.linalg.norm(self.change))

    @property
    def linf_distance(self) -> float:
        return float(np.abs(self.change).max())

    @property
    def steps(self) -> int:
        return self.dream.steps

    @property
    def probabilities(self) -> np.ndarray:
        return self.dream.probabilities

    @property
    def final_probability(self) -> float:
        return self.dream.final_target_probability

    def to_dict(self, curves: bool = True) -> dict[str, Any]:
        return {
            "from_digit": self.from_digit,
            "to_digit": self.to_digit,
            "l2_distance": self.l2_distance,
            "linf_distance": self.linf_distance,
            "steps": self.steps,
            "final_probability": self.final_probability,
            "start_probability_of_from_digit": float(self.start_probabilities[self.from_digit]),
            "final_probability_of_from_digit": float(self.probabilities[self.from_digit]),
            "predicted_digit": self.dream.predicted_digit,
            "converged": self.dream.converged,
            "start_probabilities": [float(p) for p in self.start_probabilities],
            "final_probabilities": [float(p) for p in self.probabilities],
            "adversarial_example": True,
            "note": self.note,
            **({"loss_curve": [float(v) for v in self.dream.losses],
                "target_probability_curve": [float(v) for v in self.dream.target_probabilities]}
               if curves else {}),
        }


# ---------------------------------------------------------------------------------- dream.json
@dataclass
class DreamRecord(Record):
    """One entry of ``dream.json``'s ``dreams``: :meth:`DreamResult.to_dict` (curves included)."""

    digit: int
    steps: int  # steps of equation (3) taken
    final_target_probability: float
    final_loss: float
    predicted_digit: int
    converged: bool
    loss: str  # "ce" or "mse"
    persisted_from_step: int | None  # step from which the priors were dropped (None: never)
    final_probabilities: list[float]  # (10,)
    loss_curve: list[float] | None = field(default=None, metadata=OPTIONAL)  # (steps + 1,)
    target_probability_curve: list[float] | None = field(default=None, metadata=OPTIONAL)
    # the finished image was scaled by this for full contrast (1: not; absent before it existed)
    contrast_gain: float | None = field(default=None, metadata=OPTIONAL)


@dataclass
class TurnRecord(Record):
    """``dream.json``'s ``turn``: :meth:`TurnResult.to_dict` plus the test image and options."""

    from_digit: int
    to_digit: int
    l2_distance: float  # ‖image − start‖₂, pixels in [0, 1]
    linf_distance: float  # max |image − start|
    steps: int
    final_probability: float  # of to_digit
    start_probability_of_from_digit: float
    final_probability_of_from_digit: float
    predicted_digit: int
    converged: bool
    start_probabilities: list[float]  # (10,)
    final_probabilities: list[float]  # (10,)
    adversarial_example: bool
    note: str
    loss_curve: list[float] | None = field(default=None, metadata=OPTIONAL)  # (steps + 1,)
    target_probability_curve: list[float] | None = field(default=None, metadata=OPTIONAL)
    test_index: int | None = field(default=None, metadata=OPTIONAL)  # row of the test split
    options: dict[str, Any] | None = field(default=None, metadata=OPTIONAL)  # DreamOptions


@dataclass
class DreamStudyResult(Record):
    """``dream.json``, as :func:`digitlab.dreaming.study.dream_study` writes it."""

    what: str
    loss: str  # "ce" or "mse"
    start: str  # "black", "noise", "mean" or "image"
    options: dict[str, Any]  # DreamOptions.to_dict()
    support: dict[str, Any] | None  # min_fraction, pixels; None without a support
    digits: list[int]
    all_converged: bool
    min_final_target_probability: float
    dreams: list[DreamRecord]  # in the order of ``digits``
    files: dict[str, str]  # dream, curves, probabilities, images[, turn] -> file name
    turn: TurnRecord | None = field(default=None, metadata=OPTIONAL)  # with a turn only
    figures: dict[str, str] | None = field(default=None, metadata=OPTIONAL)  # the report's:
    # figure key of dream.study.FIGURES -> path relative to the report
