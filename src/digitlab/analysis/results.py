"""What the analysis hands on: :class:`AnalysisResult`, the typed form of ``analysis.json``.

``AnalysisResult.from_dict(analyze(...))`` gives the typed result; ``to_dict()`` gives back the
same JSON. The parts that the report reads are records of their own; the rest stay JSON values.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from digitlab.records import OPTIONAL, Record


@dataclass
class DigitScore(Record):
    """One digit d on the test split: a row of ``per_digit`` (also ``worst_digit`` and kin)."""

    digit: int
    count: int  # test images of d (row sum of the confusion matrix)
    correct: int  # C[d, d]
    accuracy: float | None  # correct / count; None when there are no images of d
    recall: float | None  # the same as accuracy
    precision: float | None  # C[d, d] / times d was predicted; None when never predicted
    predicted_count: int  # column sum: how often the network answered d


@dataclass
class ConfusedPair(Record):
    """An off-diagonal cell C[true, predicted] of the confusion matrix."""

    true: int
    predicted: int
    count: int  # test images of ``true`` read as ``predicted``
    share: float  # count / images of ``true``


@dataclass
class AnswerSummary(Record):
    """What the network answered to a set of images: ``real_digits`` (``ood.summarize_answers``)."""

    title: str | None = field(default=None, kw_only=True, metadata=OPTIONAL)  # non-digit kinds
    n: int
    predicted_counts: list[int]  # (10,)
    predicted_shares: list[float]  # (10,)
    most_predicted_digit: int
    most_predicted_share: float
    mean_top_probability: float
    share_confident: float  # top probability >= confident_threshold
    mean_margin: float  # top − second output
    share_tied: float
    mean_energy: float


@dataclass
class NondigitSummary(AnswerSummary):
    """One kind of image that is not a digit (``title``): the answers to it and how well it is
    told apart from real test digits (AUROC of each score; None when undefined)."""

    auroc: float | None  # by the top probability
    auroc_energy: float | None
    auroc_margin: float | None
    same_as_source: float | None  # share answered as the digit it was made from (or None)


@dataclass
class RetrainingSummary(Record):
    """The same configuration trained again with K other seeds (``analysis.retrain``)."""

    seeds: list[int]  # (K,) the runs that finished
    diverged: list[int]  # seeds whose training diverged
    epochs: int
    top: int  # length of each run's list of top confusions
    accuracies: list[float]  # (K,) test accuracy of each run
    accuracy_mean: float | None
    accuracy_std: float | None  # sample standard deviation (ddof = 1); 0 for one run
    accuracy_min: float | None
    accuracy_max: float | None
    mistakes_by_digit: list[list[int]]  # K × 10, by true digit
    worst_digits: list[int]  # (K,)
    worst_digit_counts: list[int]  # (10,) in how many runs each digit was the worst
    top_confusions: list[list[ConfusedPair]]  # K lists of ``top`` pairs
    recurring_confusions: list[dict[str, Any]]  # true, predicted, runs, mean_count, counts
    confusion_matrices: list[list[list[int]]]  # K × 10 × 10


@dataclass
class AnalysisResult(Record):
    """``analysis.json``: the analysis of one trained network on its test split."""

    model: dict[str, Any]  # path, sizes, activations, output_activation, loss, config
    dataset: dict[str, Any]  # name, n_train, n_test
    seed: int
    accuracy: float | None
    n_test: int
    n_mistakes: int
    confusion_matrix: list[list[int]]  # 10 × 10 counts, rows = true digit
    confusion_shares: list[list[float]]  # each row divided by its total
    per_digit: list[DigitScore]  # (10,)
    worst_digit: DigitScore  # lowest accuracy (ties: smaller digit)
    best_digit: DigitScore
    lowest_precision_digit: DigitScore
    confused_pairs: list[ConfusedPair]  # most frequent first
    confused_pairs_either_way: list[dict[str, Any]]  # digits [a, b], count, a_to_b, b_to_a
    mistakes_by_true_digit: list[int]  # (10,)
    mistakes_by_predicted_digit: list[int]  # (10,)
    mistakes: dict[str, Any]  # see analysis.mistakes.mistake_summary
    data: dict[str, Any]  # class balance, see analysis.balance.class_balance
    confident_threshold: float
    real_digits: AnswerSummary
    nondigits: dict[str, NondigitSummary]  # kind -> summary
    nondigits_skipped: dict[str, str]  # kind -> reason
    retraining: RetrainingSummary | None  # None when skipped
    retraining_skipped: str | None  # why, or None
    findings: list[str]  # sentences formatted from the numbers
    figures: dict[str, str]  # key of analysis.figures.FIGURES -> file (the report: its path)
