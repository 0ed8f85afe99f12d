"""Stratified, seeded splitting of a labelled set into two disjoint parts.

Stratified means each class keeps its share: holding out 10 % of a set with 1001 zeros and
1127 ones takes round(100.1) = 100 zeros and round(112.7) = 113 ones. The choice inside each
class is a permutation drawn from the ``numpy.random.Generator`` passed in, so the same seed
always gives the same split.
"""

from __future__ import annotations

import numpy as np


def stratified_holdout(
    labels: np.ndarray, fraction: float, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Split the indices of ``labels`` into a kept part and a held-out part, class by class.

    Parameters
    ----------
    labels : numpy.ndarray of shape (N,)
        Integer class labels.
    fraction : float
        Share of each class to hold out, in [0, 1]; each class gives ``round(fraction * n_c)``.
    rng : numpy.random.Generator
        Source of the permutation inside each class.

    Returns
    -------
    kept, held : numpy.ndarray of shape (N - H,) and (H,)
        Sorted int64 indices into ``labels``; disjoint, and together all of ``0..N-1``.
    """
    labels = np.asarray(labels)
    held_parts = []
    for label in np.unique(labels):
        members = np.flatnonzero(labels == label)  # (n_c,) in file order
        n_held = int(round(fraction * members.size))
        held_parts.append(rng.permutation(members)[:n_held])
    held = np.sort(np.concatenate(held_parts)) if held_parts else np.empty(0, dtype=np.int64)
    is_held = np.zeros(labels.shape[0], dtype=bool)
    is_held[held] = True
    kept = np.flatnonzero(~is_held)
    return kept.astype(np.int64), held.astype(np.int64)


def split_rows(
    labels: np.ndarray, seed: int, test_fraction: float, validation_fraction: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The rows of a labelled set kept for training, held out for validation and for testing.

    A stratified ``test_fraction`` of each class is held out first, then a stratified
    ``validation_fraction`` of what is left. The two draws use independent streams spawned
    from ``seed``, so changing the validation fraction never changes the test rows, and the
    same seed always gives the same rows.

    Returns
    -------
    train, validation, test : numpy.ndarray of int64
        Sorted, disjoint rows of ``labels`` that together are all of ``0..N-1``.
    """
    labels = np.asarray(labels)
    test_stream, validation_stream = np.random.SeedSequence(int(seed)).spawn(2)
    rows = np.arange(labels.shape[0], dtype=np.int64)
    kept, test = stratified_holdout(labels, test_fraction, np.random.default_rng(test_stream))
    rows = rows[kept]
    validation = np.empty(0, dtype=np.int64)
    if validation_fraction > 0:
        kept, held = stratified_holdout(labels[rows], validation_fraction,
                                        np.random.default_rng(validation_stream))
        rows, validation = rows[kept], rows[held]
    return rows, validation, test
