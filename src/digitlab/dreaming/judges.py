"""Judges for dreams: does a network's dream of a digit look like that digit?

A dream (equation (3), y⁰ ← y⁰ + η δ⁰ W⁰ from a black image) always convinces the network that
dreamed it, so the network cannot be its own judge. These judges only look at real handwritten
digits the network never trained on (the held-out test split):

- :func:`knn_vote`: the majority vote of the k nearest real digits by Euclidean distance on the
  raw pixels, ties going to the label of the nearest among the tied labels;
- :func:`nearest_by_cosine`: the single most similar real digit by cosine similarity, and that
  similarity (0 and label −1 for a blank dream, which points nowhere);
- :func:`judge_dreams`: both judges over a set of dreams and their intended digits, as a
  :class:`DreamJudgement`; :func:`judge_dream_folder` does the same for the ``dreams.npy`` of a
  ``digitlab dream`` folder.

A dream is *readable* when both judges read it as the intended digit. The issue "Networks that
know what they don't know" asks, for an adversarially robust network, that all ten dreams be
readable and that the median cosine to the nearest real digit be at least
:data:`TARGET_MEDIAN_COSINE` (0.65): the noise-like dreams of a plain network score about 0.55,
the stroke-like dreams of a robust one about 0.72.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from digitlab.errors import ConfigError, DataError
from digitlab.i18n import domain, number
from digitlab.similarity import most_similar

ngettext = domain("report").ngettext

#: the median cosine to the nearest real digit the issue asks of a robust network's dreams
TARGET_MEDIAN_COSINE = 0.65
#: at most this many distances or similarities (float64) are held at once: 32 MB
CHUNK_ELEMENTS = 4_000_000
#: reference digits converted to float64 at a time
REFERENCE_CHUNK = 2048
#: the dreams a ``digitlab dream`` folder must hold to be judged: the digits 0-9, 784 pixels each
FOLDER_SHAPE = (10, 784)


# ----------------------------------------------------------------------------- checks
def _images(x: Any, what: str) -> np.ndarray:
    """``x`` as a 2-D array of images (one row each); one image (784,) becomes one row."""
    array = np.asarray(x)
    if array.ndim == 1:
        array = array[None, :]
    if array.ndim != 2:
        raise DataError(f"{what} must be a 2-D array (one image per row), got shape "
                        f"{array.shape}")
    if not np.issubdtype(array.dtype, np.number) or np.issubdtype(array.dtype, np.complexfloating):
        raise DataError(f"{what} must hold real numbers, got dtype {array.dtype}")
    if not np.all(np.isfinite(array)):
        raise DataError(f"{what} hold NaN or infinite pixels")
    return array


def _pool(dreams: Any, digits: Any, labels: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The dreams, the reference digits and their labels, checked against each other."""
    dreams = _images(dreams, "dreams")
    digits = _images(digits, "reference digits")
    labels = np.asarray(labels)
    if labels.ndim != 1 or labels.shape[0] != digits.shape[0]:
        raise DataError(f"reference labels must be one per digit: {digits.shape[0]} digits, "
                        f"labels of shape {labels.shape}")
    if labels.shape[0] and not np.issubdtype(labels.dtype, np.integer):
        raise DataError(f"reference labels must be integers, got dtype {labels.dtype}")
    if digits.shape[0] == 0:
        raise DataError("no reference digits to judge the dreams by")
    if dreams.shape[1] != digits.shape[1]:
        raise DataError(f"dreams have {dreams.shape[1]} pixels but the reference digits have "
                        f"{digits.shape[1]}")
    return dreams, digits, labels.astype(np.int64)


def _row_chunk(n_columns: int) -> int:
    """How many dreams to take at once so that a (rows, n_columns) float64 block stays small."""
    return max(1, CHUNK_ELEMENTS // max(1, n_columns))


# ----------------------------------------------------------------------------- distances
def squared_distances(
    a: np.ndarray, b: np.ndarray, chunk: int | None = REFERENCE_CHUNK
) -> np.ndarray:
    """‖a_i − b_j‖² for every row of ``a`` (M, P) and ``b`` (N, P): float64 (M, N).

    Computed as ‖a‖² + ‖b‖² − 2 a·b, clipped at 0 (rounding can make it slightly negative).
    ``b`` is converted to float64 ``chunk`` rows at a time (all at once when None), so a float32
    pool of 10,000 digits is never copied whole.
    """
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b)
    if chunk is not None and (isinstance(chunk, bool) or int(chunk) < 1):
        raise ConfigError(f"chunk must be a positive number of rows or None, got {chunk!r}")
    step = b.shape[0] if chunk is None else int(chunk)
    out = np.empty((a.shape[0], b.shape[0]), dtype=np.float64)
    a_squared = np.einsum("ij,ij->i", a, a)[:, None]
    for start in range(0, b.shape[0], max(1, step)):
        block = np.asarray(b[start:start + step], dtype=np.float64)
        b_squared = np.einsum("ij,ij->i", block, block)[None, :]
        part = out[:, start:start + block.shape[0]]
        np.matmul(a, block.T, out=part)
        part *= -2.0
        part += a_squared
        part += b_squared
        np.maximum(part, 0.0, out=part)
    return out


# ----------------------------------------------------------------------------- the judges
def _nearest_k(distances: np.ndarray, k: int) -> np.ndarray:
    """Indices (rows, k) of the k smallest distances of each row, nearest first; equal distances
    in order of index, exactly as a stable sort of the whole row would give."""
    n = distances.shape[1]
    if k == n:
        return np.argsort(distances, axis=1, kind="stable")
    candidates = np.argpartition(distances, k - 1, axis=1)[:, :k]
    kth = np.take_along_axis(distances, candidates, axis=1).max(axis=1)
    # argpartition breaks a tie at the k-th distance arbitrarily: such rows are sorted whole
    crowded = np.count_nonzero(distances <= kth[:, None], axis=1) > k
    if np.any(crowded):
        candidates[crowded] = np.argsort(distances[crowded], axis=1, kind="stable")[:, :k]
    chosen = np.take_along_axis(distances, candidates, axis=1)
    order = np.lexsort((candidates, chosen), axis=1)
    return np.take_along_axis(candidates, order, axis=1)


def _vote(neighbour_labels: np.ndarray) -> np.ndarray:
    """Majority label of each row (nearest first); a tie goes to the tied label met first."""
    if neighbour_labels.shape[0] == 0:
        return np.empty(0, dtype=np.int64)
    classes, codes = np.unique(neighbour_labels, return_inverse=True)
    codes = codes.reshape(neighbour_labels.shape)
    rows, k = codes.shape
    one_hot = codes[:, :, None] == np.arange(classes.size)[None, None, :]
    counts = one_hot.sum(axis=1)
    first = np.where(one_hot.any(axis=1), one_hot.argmax(axis=1), k)
    tied = counts == counts.max(axis=1, keepdims=True)
    winner = np.where(tied, first, k + 1).argmin(axis=1)
    return classes[winner].astype(np.int64)


def knn_vote(dreams: np.ndarray, digits: np.ndarray, labels: np.ndarray, k: int = 10
             ) -> np.ndarray:
    """The digit each dream is closest to: a vote of its k nearest real digits.

    Parameters
    ----------
    dreams : (D, P) images (one image (P,) is one dream).
    digits, labels : (N, P) real held-out digits and their (N,) labels.
    k : number of neighbours, 1 <= k <= N.

    Returns
    -------
    numpy.ndarray of shape (D,), int64
        The label most frequent among the k digits nearest (Euclidean, raw pixels) to each
        dream. A tie between labels goes to the one whose nearest member is nearest; equal
        distances are ordered by the digits' rows. The distances are vectorised,
        ‖a‖² + ‖b‖² − 2ab, in chunks that hold at most :data:`CHUNK_ELEMENTS` of them at once.
    """
    dreams, digits, labels = _pool(dreams, digits, labels)
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or not 1 <= k <= len(labels):
        raise ConfigError(f"k must be an integer from 1 to the {len(labels)} reference digits, "
                          f"got {k!r}")
    votes = np.empty(dreams.shape[0], dtype=np.int64)
    step = _row_chunk(digits.shape[0])
    for start in range(0, dreams.shape[0], step):
        distances = squared_distances(dreams[start:start + step], digits)
        votes[start:start + step] = _vote(labels[_nearest_k(distances, int(k))])
    return votes


def nearest_by_cosine(dreams: np.ndarray, digits: np.ndarray, labels: np.ndarray
                      ) -> tuple[np.ndarray, np.ndarray]:
    """The real digit most similar to each dream by cosine similarity.

    Returns
    -------
    labels : numpy.ndarray of shape (D,), int64
        The label of the most similar digit (the first such row on a tie); −1 for an all-zero
        dream, which has no direction to compare.
    cosine : numpy.ndarray of shape (D,), float64
        Its cosine similarity a·b / (‖a‖‖b‖), in [−1, 1]; 0 for an all-zero dream (an all-zero
        reference digit counts as cosine 0 with everything).
    """
    dreams, digits, labels = _pool(dreams, digits, labels)
    index, cosine = most_similar(dreams, digits)
    best = labels[index]
    blank = ~np.any(dreams != 0, axis=1)
    best[blank] = -1
    cosine[blank] = 0.0
    return best, cosine


# ----------------------------------------------------------------------------- the verdict
@dataclass(frozen=True, eq=False)
class DreamJudgement:
    """What the two judges read in each dream.

    Attributes
    ----------
    intended : (D,) int64, the digit each dream was dreamed as.
    knn_label : (D,) int64, the vote of the k nearest real digits (:func:`knn_vote`).
    cosine_label : (D,) int64, the label of the most similar real digit (−1 for a blank dream).
    cosine : (D,) float64, the cosine similarity to that digit (0 for a blank dream).
    k : the number of neighbours that voted.
    n_reference : the number of real digits the dreams were compared with.
    """

    intended: np.ndarray
    knn_label: np.ndarray
    cosine_label: np.ndarray
    cosine: np.ndarray
    k: int
    n_reference: int

    def __len__(self) -> int:
        return int(self.intended.shape[0])

    @property
    def readable(self) -> np.ndarray:
        """(D,) bool: both judges read the dream as its intended digit."""
        return (self.knn_label == self.intended) & (self.cosine_label == self.intended)

    @property
    def knn_agreement(self) -> float:
        """Share of dreams whose kNN vote is the intended digit."""
        return float(np.mean(self.knn_label == self.intended))

    @property
    def cosine_agreement(self) -> float:
        """Share of dreams whose most similar real digit has the intended label."""
        return float(np.mean(self.cosine_label == self.intended))

    @property
    def median_cosine(self) -> float:
        """Median over the dreams of the cosine similarity to the nearest real digit."""
        return float(np.median(self.cosine))

    @property
    def n_readable(self) -> int:
        return int(np.count_nonzero(self.readable))

    @property
    def meets_target(self) -> bool:
        """Every dream readable and the median cosine at least :data:`TARGET_MEDIAN_COSINE`."""
        return self.n_readable == len(self) and self.median_cosine >= TARGET_MEDIAN_COSINE

    def summary(self) -> str:
        """One line, e.g. "7 of 10 dreams read as their digit by both judges; median cosine to
        the nearest real digit 0.71" (:func:`judgement_summary`)."""
        return judgement_summary(self.n_readable, len(self), self.median_cosine)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON: the aggregates, the targets and one entry per dream."""
        return {
            "k": int(self.k),
            "n_reference": int(self.n_reference),
            "n_dreams": len(self),
            "n_readable": self.n_readable,
            "knn_agreement": self.knn_agreement,
            "cosine_agreement": self.cosine_agreement,
            "median_cosine": self.median_cosine,
            "target": {"all_readable": True, "median_cosine": TARGET_MEDIAN_COSINE,
                       "met": bool(self.meets_target)},
            "summary": self.summary(),
            "dreams": [
                {"intended": int(i), "knn_label": int(n), "cosine_label": int(c),
                 "cosine": float(s), "readable": bool(r)}
                for i, n, c, s, r in zip(self.intended, self.knn_label, self.cosine_label,
                                         self.cosine, self.readable, strict=True)
            ],
        }


def judgement_summary(n_readable: int, n_dreams: int, median_cosine: float) -> str:
    """A judgement in one line of the active language, from its numbers (``to_dict``'s
    ``n_readable``, ``n_dreams``, ``median_cosine``)."""
    return ngettext(
        "{readable} of {n} dream read as its digit by both judges; median cosine to the "
        "nearest real digit {cosine}",
        "{readable} of {n} dreams read as their digit by both judges; median cosine to the "
        "nearest real digit {cosine}", n_dreams,
    ).format(readable=n_readable, n=n_dreams, cosine=number(median_cosine, 2))


def judge_dreams(
    dreams: np.ndarray,
    intended: np.ndarray,
    digits: np.ndarray,
    labels: np.ndarray,
    k: int = 10,
) -> DreamJudgement:
    """Judge dreams (D, P) of the ``intended`` digits (D,) by real held-out ``digits`` (N, P)
    with ``labels`` (N,): :func:`knn_vote` and :func:`nearest_by_cosine`.

    The issue asks a robust network for all ten dreams readable (both judges read the intended
    digit) and a median cosine to the nearest real digit of at least 0.65
    (:attr:`DreamJudgement.meets_target`); a plain network's noise-like dreams score about 0.55,
    a robust one's about 0.72.
    """
    dreams = _images(dreams, "dreams")
    intended = np.asarray(intended)
    if dreams.shape[0] == 0:
        raise DataError("no dreams to judge")
    if intended.shape != (dreams.shape[0],) or not np.issubdtype(intended.dtype, np.integer):
        raise DataError(f"intended must hold one integer digit per dream: {dreams.shape[0]} "
                        f"dreams, intended of shape {intended.shape} and dtype {intended.dtype}")
    knn = knn_vote(dreams, digits, labels, k)
    cosine_label, cosine = nearest_by_cosine(dreams, digits, labels)
    return DreamJudgement(intended=intended.astype(np.int64), knn_label=knn,
                          cosine_label=cosine_label, cosine=cosine, k=int(k),
                          n_reference=int(np.asarray(labels).shape[0]))


def reference_digits(dataset: Any, n: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The held-out (test) images (N, 784) and labels (N,) of a loaded
    :class:`digitlab.data.Dataset`: real digits the network never trained on.

    ``n`` keeps only the first ``n`` of them (the test split is in file order, so the classes
    are mixed); None keeps all.
    """
    test = getattr(dataset, "test", None)
    if test is None or len(test) == 0:
        name = getattr(dataset, "name", "the dataset")
        raise DataError(f"{name} has no test split to judge dreams by (load it with the test "
                        f"split required)")
    if n is not None:
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
            raise ConfigError(f"n must be a positive number of reference digits or None, "
                              f"got {n!r}")
        return test.images[:n], test.labels[:n]
    return test.images, test.labels


def judge_dream_folder(folder: str | os.PathLike, dataset: Any, *, k: int = 10,
                       n: int | None = None) -> DreamJudgement:
    """Judge the ``dreams.npy`` of a ``digitlab dream`` output folder: ten dreams (10, 784), of
    the digits 0-9 in order, against the test split of ``dataset`` (its first ``n`` digits when
    ``n`` is given; see :func:`reference_digits`)."""
    from digitlab.dreaming.study import DREAMS_ARRAY

    path = Path(folder) / DREAMS_ARRAY
    if not path.is_file():
        raise DataError(f"{path}: no such file (a folder written by 'digitlab dream' holds it)")
    try:
        dreams = np.load(path, allow_pickle=False)
    except (OSError, ValueError, EOFError) as error:
        reason = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise DataError(f"{path}: not a readable NumPy array ({reason})") from None
    if not isinstance(dreams, np.ndarray) or dreams.shape != FOLDER_SHAPE:
        shape = getattr(dreams, "shape", None)
        raise DataError(f"{path}: expected the dreams of the digits 0-9 as an array of shape "
                        f"{FOLDER_SHAPE}, got {shape}")
    images, labels = reference_digits(dataset, n)
    return judge_dreams(dreams, np.arange(10), images, labels, k)
