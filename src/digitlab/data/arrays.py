"""Datasets from arrays one already holds: any (N, d) features with integer labels 0..K−1.

``dl.train(X, y)`` and the scikit-learn estimator come through here. The arrays are checked
once, each failure a one-line :class:`~digitlab.errors.DataError` that names what is wrong
(NaN, a wrong number of dimensions, labels that are not integers, a single class...), and split
like a dataset without a test set of its own: a stratified ``test_fraction`` held out, then a
stratified ``validation_fraction`` of the rest, both drawn from streams of the seed
(:func:`~digitlab.data.splits.split_rows`, the split of the embedded sample too).

The network reads its input width d and its number of classes K from the result
(:attr:`Dataset.n_features`, :attr:`Dataset.n_classes`); MNIST's 784 and 10 are one case.
Rows of 784 values are taken as 28×28 images (``image_shape``), anything else as features
that nothing draws or distorts as images.
"""

from __future__ import annotations

import numpy as np

from digitlab.data.catalog import ARRAYS_NAME
from digitlab.data.datasets import Dataset, Split
from digitlab.data.splits import split_rows
from digitlab.errors import DataError
from digitlab.shapes import IMAGE_SHAPE, N_PIXELS


def check_features(images, what: str = "images") -> np.ndarray:
    """``images`` as a finite (N, d) float array: float64 stays float64, the rest become
    float32. Raises a one-line :class:`DataError` naming ``what`` otherwise."""
    try:
        array = np.asarray(images)
    except (TypeError, ValueError) as error:  # ragged lists
        raise DataError(f"{what} must be an array of numbers, (N samples, d features): "
                        f"{error}") from None
    if array.dtype.kind not in "biuf":
        raise DataError(f"{what} must be real numbers, got an array of {array.dtype}")
    if array.ndim != 2:
        raise DataError(f"{what} must be a 2-D array (N samples, d features), got shape "
                        f"{array.shape}")
    if array.shape[0] == 0 or array.shape[1] == 0:
        raise DataError(f"{what} must hold at least one sample of at least one feature, got "
                        f"shape {array.shape}")
    array = array.astype(np.float64 if array.dtype == np.float64 else np.float32, copy=False)
    finite = np.isfinite(array)
    if not finite.all():
        row, column = np.argwhere(~finite)[0]
        raise DataError(f"{what} hold NaN or infinite values (the first at row {row}, column "
                        f"{column}: {array[row, column]}); expected finite numbers")
    return array


def check_labels(labels, n: int, n_classes: int | None = None, what: str = "labels") -> np.ndarray:
    """``labels`` as (n,) int64 class numbers 0..K−1, K = ``n_classes`` or the largest + 1.

    Whole numbers stored as floats are accepted; anything else is a one-line
    :class:`DataError`: not 1-D or not n long, not whole numbers, negative, at least
    ``n_classes``, or (without ``n_classes``) a single class.
    """
    array = np.asarray(labels)
    if array.ndim != 1 or array.shape[0] != n:
        raise DataError(f"{what} must be a 1-D array of {n} class numbers (one per sample), "
                        f"got shape {array.shape}")
    if array.dtype.kind == "f":
        whole = np.isfinite(array) & (array == np.round(array))
        if not whole.all():
            index = int(np.flatnonzero(~whole)[0])
            raise DataError(f"{what} must be integers 0..K-1, found {array[index]} at index "
                            f"{index}")
    elif array.dtype.kind not in "iu":
        raise DataError(f"{what} must be integers 0..K-1, got an array of {array.dtype} (the "
                        "scikit-learn estimator digitlab.sklearn.MLPClassifier takes any labels)")
    if array.size and array.min() < 0:
        index = int(np.argmin(array))
        raise DataError(f"{what} must be integers 0..K-1, found {array[index]} at index {index}")
    array = array.astype(np.int64)
    if n_classes is None:
        present = np.unique(array)
        if present.size < 2:
            raise DataError(f"{what} hold a single class ({present[0] if present.size else '-'})"
                            "; a classifier needs at least two")
    elif array.size and array.max() >= n_classes:
        index = int(np.argmax(array))
        raise DataError(f"{what} must lie in 0..{n_classes - 1} ({n_classes} classes), found "
                        f"{array[index]} at index {index}")
    return array


def dataset_from_arrays(
    images,
    labels,
    *,
    seed: int = 0,
    test_fraction: float = 0.1,
    validation_fraction: float = 0.0,
    n_classes: int | None = None,
    name: str = ARRAYS_NAME,
) -> Dataset:
    """A :class:`Dataset` of ``images`` (N, d) and ``labels`` (N,), split by ``seed``.

    Parameters
    ----------
    images : array-like of shape (N, d)
        Finite numbers: pixels, or any features (float64 kept, other types as float32).
    labels : array-like of shape (N,)
        Class numbers 0..K−1 (whole numbers; at least two classes).
    seed, test_fraction, validation_fraction
        The stratified held-out splits, as for :func:`digitlab.data.load_dataset`: with
        ``test_fraction = 0`` every sample not in the validation split is trained on.
    n_classes : int, optional
        K, when some classes may be missing from ``labels``; default the largest label + 1.

    Returns
    -------
    Dataset
        ``train``, ``validation`` and ``test`` splits of the rows (``indices`` the rows of
        ``images``), ``class_names`` "0".."K−1", ``image_shape`` (28, 28) for d = 784, else
        None.
    """
    features = check_features(images)
    classes = check_labels(labels, features.shape[0], n_classes)
    if n_classes is None:
        n_classes = int(classes.max()) + 1
    for label, value in (("test_fraction", test_fraction),
                         ("validation_fraction", validation_fraction)):
        if not 0.0 <= float(value) < 1.0:
            raise DataError(f"{label} must be in [0, 1), got {value!r}")
    train, validation, test = split_rows(classes, seed, test_fraction, validation_fraction)

    def split(name: str, rows: np.ndarray) -> Split:
        return Split(name, features[rows], classes[rows], rows)

    return Dataset(
        name=name,
        source=f"arrays of {features.shape[0]:,} samples, {features.shape[1]:,} features, "
               f"{n_classes} classes",
        class_names=tuple(str(k) for k in range(n_classes)),
        train=split("train", train),
        test=split("test", test),
        validation=split("validation", validation),
        test_is_official=False,
        seed=int(seed),
        test_fraction=float(test_fraction),
        validation_fraction=float(validation_fraction),
        image_shape=IMAGE_SHAPE if features.shape[1] == N_PIXELS else None,
    )
