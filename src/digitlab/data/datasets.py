"""Datasets as the rest of digitlab sees them: float images in [0, 1] and int labels, by split.

:func:`load_dataset` finds a dataset's IDX files (see :mod:`digitlab.data.catalog` for where it
looks), checks them, scales the pixels to [0, 1] and returns a :class:`Dataset` with a training,
a test and a (possibly empty) validation :class:`Split`.

When a dataset has its own test set (MNIST, Fashion-MNIST) that is the test split. The embedded
``mnist-sample`` has none: a stratified ``test_fraction`` of it is held out with the seed. A
stratified ``validation_fraction`` of the training split is carved out in the same way. The two
draws use independent streams spawned from the seed, so changing the validation fraction never
changes the test split, and the same seed always gives the same splits.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import numpy as np

from digitlab.data.catalog import (
    ARRAYS_NAME,
    DEFAULT_DATASET,
    DIGIT_NAMES,
    EMBEDDED_DIR,
    FILE_STEMS,
    SPECS,
    SPLIT_ROLES,
    DatasetSpec,
    dataset_cache_dir,
    find_file,
)
from digitlab.data.download import sha256_file
from digitlab.data.idx import read_idx
from digitlab.data.splits import split_rows
from digitlab.errors import ConfigError, DataError, Message
from digitlab.formatting import FOLDER_SOURCE, IDX_SOURCE, VERIFIED_SOURCE
from digitlab.shapes import IMAGE_SHAPE, N_CLASSES, N_PIXELS  # noqa: F401  (re-exported)

if TYPE_CHECKING:  # matplotlib is imported when a figure is drawn, not with this module
    from matplotlib.figure import Figure

SPLIT_NAMES = ("train", "test")


@dataclass(frozen=True, eq=False)
class Split:
    """One part of a dataset.

    Attributes
    ----------
    name : str
        ``"train"``, ``"test"`` or ``"validation"``.
    images : numpy.ndarray of shape (N, 784), float32
        Row-major 28x28 images, pixel / 255, so values lie in [0, 1] (a dataset made from
        arrays: (N, d) features, see :mod:`digitlab.data.arrays`).
    labels : numpy.ndarray of shape (N,), int64
        Class of each image, 0..9 (0..K-1).
    indices : numpy.ndarray of shape (N,), int64
        Row of each image in the IDX file it came from.
    """

    name: str
    images: np.ndarray
    labels: np.ndarray
    indices: np.ndarray

    def __len__(self) -> int:
        return int(self.labels.shape[0])

    def counts(self, n_classes: int = N_CLASSES) -> np.ndarray:
        """Number of examples of each class: int64 array of shape (n_classes,)."""
        return np.bincount(self.labels, minlength=n_classes)[:n_classes].astype(np.int64)

    def __repr__(self) -> str:
        return f"Split({self.name!r}, {len(self)} images of {self.images.shape[1]} pixels)"


@dataclass(frozen=True, eq=False)
class Dataset:
    """A loaded dataset: its splits plus where it came from.

    Attributes
    ----------
    name : str
        ``"mnist-sample"``, ``"mnist"``, ``"fashion-mnist"`` or the name of the ``data_dir``.
    source : str
        Human-readable origin and credit.
    class_names : tuple of str
        Ten names, indexed by label.
    train, test : Split or None
        None only for a split the caller did not ``require``.
    validation : Split
        Carved from the training data; 0 rows when ``validation_fraction`` is 0.
    test_is_official : bool
        True when ``test`` is the dataset's own test set, False when it was held out of the
        training data.
    files : dict of str to pathlib.Path
        The IDX file read for each role (``"train_images"``, ...).
    seed, test_fraction, validation_fraction
        The arguments that shaped the splits.
    image_shape : tuple of int, or None
        (28, 28) when each row is an image; None for features that are not (arrays of other
        widths), which nothing draws or distorts as images.
    """

    name: str
    source: str
    class_names: tuple[str, ...]
    train: Split | None
    test: Split | None
    validation: Split
    test_is_official: bool
    files: dict[str, Path] = field(default_factory=dict)
    seed: int = 0
    test_fraction: float = 0.1
    validation_fraction: float = 0.0
    image_shape: tuple[int, ...] | None = IMAGE_SHAPE

    @property
    def n_features(self) -> int:
        """Values per sample: the network's inputs (784 for digits)."""
        split = next(s for s in (self.train, self.test, self.validation) if s is not None)
        return int(split.images.shape[1])

    @property
    def n_classes(self) -> int:
        """Classes, one per name: the network's outputs (10 for digits)."""
        return len(self.class_names)

    def show(self, per_digit: int = 8, split: str = "train") -> Figure:
        """A figure of the first ``per_digit`` images of each class in ``split`` (``"train"``,
        ``"validation"`` or ``"test"``), one row per class; Jupyter shows it."""
        # matplotlib is imported here, not with the data (0.3 s that loading data never needs)
        from digitlab.plots.data import digit_grid_figure

        if self.image_shape is None:
            raise DataError(f"dataset {self.name!r} holds {self.n_features} features per "
                            "sample, not 28×28 images; show draws images")
        chosen = self.split(split)
        if not len(chosen.labels):
            raise DataError(f"dataset {self.name!r} has no {split!r} images to show; expected "
                            "one of train, validation, test with images in it")
        return digit_grid_figure(chosen.images, chosen.labels, self.class_names, per_digit)

    def split(self, name: str) -> Split:
        """The split called ``name`` (``"train"``, ``"validation"`` or ``"test"``); a
        :class:`DataError` when the dataset has no such split (one not required when loaded)."""
        chosen = getattr(self, name, None) if name in ("train", "validation", "test") else None
        if chosen is None:
            raise DataError(f"dataset {self.name!r} has no {name!r} split; expected one of "
                            "train, validation, test that was loaded")
        return chosen

    def splits(self) -> list[Split]:
        """The splits present, in the order train, validation, test."""
        return [s for s in (self.train, self.validation, self.test) if s is not None]

    def describe(self) -> dict:
        """A JSON-serialisable summary: source, shapes, per-class counts, file checksums."""
        return {
            "name": self.name,
            "source": self.source,
            "class_names": list(self.class_names),
            "image_shape": None if self.image_shape is None else list(self.image_shape),
            "test_is_official": self.test_is_official,
            "seed": self.seed,
            "test_fraction": None if self.test_is_official else self.test_fraction,
            "validation_fraction": self.validation_fraction,
            "splits": {
                split.name: {
                    "images_shape": list(split.images.shape),
                    "labels_shape": list(split.labels.shape),
                    "counts": split.counts(self.n_classes).tolist(),
                }
                for split in self.splits()
            },
            "files": {
                role: {"path": str(path), "bytes": path.stat().st_size,
                       "sha256": sha256_file(path)}
                for role, path in self.files.items()
            },
        }


def _check_arguments(seed: int, test_fraction: float, validation_fraction: float,
                     require: Iterable[str] | str) -> tuple[str, ...]:
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ConfigError(f"seed must be an integer >= 0, got {seed!r}")
    for label, value in (("test_fraction", test_fraction),
                         ("validation_fraction", validation_fraction)):
        if not 0.0 <= float(value) < 1.0:
            raise ConfigError(f"{label} must be in [0, 1), got {value!r}")
    required = (require,) if isinstance(require, str) else tuple(require)
    unknown = [r for r in required if r not in SPLIT_NAMES]
    if unknown:
        raise ConfigError(f"require must name splits among {SPLIT_NAMES}, got {unknown!r}")
    return required


def _locate(name: str | None, data_dir, cache_dir
            ) -> tuple[str, DatasetSpec | None, Path, dict[str, Path] | None]:
    """Return the dataset's name, its spec (None for an anonymous folder), its folder and, for
    the download cache, the verified files to use (None: look in the folder)."""
    if name == ARRAYS_NAME and data_dir is None:
        raise DataError("the dataset 'arrays' was given in Python and is not kept; give the "
                        "arrays again (dl.train(X, y, ...), dl.evaluate(model, X, y))")
    if name is not None and name not in SPECS:
        raise DataError(Message("unknown dataset {name!r}; expected one of {names}", name=name,
                                names=", ".join(SPECS)))
    spec = SPECS.get(name) if name is not None else None
    if data_dir is not None:
        folder = Path(data_dir).expanduser()
        if not folder.is_dir():
            raise DataError(Message("{folder}: not a folder (expected a folder of IDX files)",
                                    folder=folder))
        return name or folder.resolve().name, spec, folder, None
    spec = spec or SPECS[DEFAULT_DATASET]
    if spec.name == DEFAULT_DATASET:
        return spec.name, spec, EMBEDDED_DIR, None
    cached = dataset_cache_dir(spec.name, cache_dir)
    published = {role: cached / f"{stem}.gz" for role, stem in FILE_STEMS.items()}
    if all(path.is_file() for path in published.values()):
        _verify_cached(spec, cached)
        return spec.name, spec, cached, published
    for folder in spec.system_dirs:
        if all(find_file(folder, role) is not None for role in FILE_STEMS):
            return spec.name, spec, folder, None
    names = ", ".join(f.name for f in spec.files)
    unverified = [role for role in FILE_STEMS if find_file(cached, role) is not None
                  and not published[role].is_file()]
    note = (Message(" (other copies in {folder} are not used: only the published .gz files can "
                    "be verified by SHA-256; give their folder with --data DIR to use them "
                    "anyway)", folder=cached) if unverified else "")
    raise DataError(Message(
        "{name} is not available locally: run `digitlab data download {name}` (it saves {files} "
        "to {folder}), or pass --data DIR with a folder holding those files{note}",
        name=spec.name, files=names, folder=cached, note=note))


def _verify_cached(spec: DatasetSpec, folder: Path) -> None:
    """Check the SHA-256 of every published file in the cache folder."""
    for remote in spec.files:
        path = folder / remote.name
        if not path.is_file() or sha256_file(path) != remote.sha256:
            raise DataError(Message(
                "{path}: SHA-256 does not match the published file (damaged or incomplete); "
                "run `digitlab data download {name}` to fetch it again", path=path,
                name=spec.name))


def _read_pair(images_path: Path, labels_path: Path) -> tuple[np.ndarray, np.ndarray]:
    """Read and check an images/labels pair: uint8 (N, 28, 28) and int64 (N,) in 0..9."""
    images = read_idx(images_path, writable=False)  # converted to float32 below anyway
    if images.dtype != np.uint8 or images.ndim != 3 or images.shape[1:] != IMAGE_SHAPE:
        raise DataError(Message(
            "{path}: expected uint8 images of shape (N, 28, 28), found {dtype} of shape {shape}",
            path=images_path, dtype=images.dtype, shape=images.shape))
    if images.shape[0] == 0:
        raise DataError(Message("{path}: holds no images (its header gives a dimension of 0); "
                                "expected at least one", path=images_path))
    labels = read_idx(labels_path)
    if labels.ndim != 1 or labels.dtype.kind not in "ui":
        raise DataError(Message(
            "{path}: expected a 1-D array of integer labels, found {dtype} of shape {shape}",
            path=labels_path, dtype=labels.dtype, shape=labels.shape))
    if labels.size and (labels.min() < 0 or labels.max() >= N_CLASSES):
        bad = np.flatnonzero((labels < 0) | (labels >= N_CLASSES))
        raise DataError(
            f"{labels_path}: labels must be 0..9, found {labels[bad[0]]} at index {bad[0]} "
            f"({bad.size} labels out of range)"
        )
    if labels.shape[0] != images.shape[0]:
        raise DataError(Message(
            "{images} holds {n_images} images but {labels} holds {n_labels} labels; they must "
            "match", images=images_path, n_images=images.shape[0], labels=labels_path,
            n_labels=labels.shape[0]))
    return images, labels.astype(np.int64)


def _make_split(name: str, images_u8: np.ndarray, labels: np.ndarray,
                rows: np.ndarray | None = None) -> Split:
    """Build a Split from uint8 images (N, 28, 28), taking ``rows`` if given."""
    if rows is None:
        rows = np.arange(labels.shape[0], dtype=np.int64)
        flat = images_u8.reshape(-1, N_PIXELS)                   # (N, 28, 28) -> (N, 784)
    else:
        flat = images_u8.reshape(-1, N_PIXELS)[rows]             # (R, 784) uint8
        labels = labels[rows]
    scaled = np.divide(flat, np.float32(255.0), dtype=np.float32)  # (R, 784) in [0, 1]
    return Split(name, scaled, labels, rows)


def _empty_split(name: str) -> Split:
    return Split(name, np.zeros((0, N_PIXELS), np.float32), np.zeros(0, np.int64),
                 np.zeros(0, np.int64))


def load_dataset(
    name: str | None = None,
    data_dir: str | os.PathLike | None = None,
    *,
    seed: int = 0,
    test_fraction: float = 0.1,
    validation_fraction: float = 0.0,
    require: Iterable[str] | str = ("train", "test"),
    cache_dir: str | os.PathLike | None = None,
) -> Dataset:
    """Load a dataset by name or from a folder, split and scaled to [0, 1].

    Parameters
    ----------
    name : str, optional
        One of :data:`DATASET_NAMES`. Default ``"mnist-sample"`` (shipped with digitlab). With
        ``data_dir`` it only labels the folder (class names, source credit).
    data_dir : str or os.PathLike, optional
        A folder holding ``train-images-idx3-ubyte``, ``train-labels-idx1-ubyte``,
        ``t10k-images-idx3-ubyte`` and ``t10k-labels-idx1-ubyte``, each raw or ``.gz``; only
        the pairs of the required splits need be present.
    seed : int
        Seeds the held-out test split (when the dataset has no test set) and the validation split.
    test_fraction : float
        Share of each class held out as the test split when the dataset has no test set.
    validation_fraction : float
        Share of each class of the training split carved out as the validation split.
    require : iterable of {"train", "test"}
        The splits the caller needs; a split not required may be None (and is not read).
    cache_dir : str or os.PathLike, optional
        Cache root where ``digitlab data download`` put the files (default ``$DIGITLAB_CACHE`` or
        the user cache folder).

    Returns
    -------
    Dataset
        ``train.images`` of shape (N_train, 784), float32 in [0, 1]; ``train.labels`` of shape
        (N_train,), int64; likewise for ``test`` and ``validation``.

    Raises
    ------
    DataError
        If the dataset is not available locally (``mnist``/``fashion-mnist`` are never downloaded
        implicitly), a required file is missing, or a file is damaged or inconsistent.
    ConfigError
        If a fraction, the seed or ``require`` is invalid.
    """
    required = _check_arguments(seed, test_fraction, validation_fraction, require)
    ds_name, spec, folder, verified = _locate(name, data_dir, cache_dir)
    holds_out_test = spec is not None and not spec.has_official_test

    needed = {"train"} if holds_out_test else set(required)  # held-out test comes from train
    available: dict[str, Path] = {}
    missing = []
    for split in SPLIT_NAMES:
        roles = SPLIT_ROLES[split]
        found = {role: verified[role] if verified is not None else find_file(folder, role)
                 for role in roles}
        if all(found.values()):
            available.update(found)
        elif split in needed:
            missing += [FILE_STEMS[r] for r, path in found.items() if path is None]
    if missing:
        raise DataError(Message(
            "{folder}: missing {files} (each may be raw or .gz); the splits required are "
            "{splits}", folder=folder, files=", ".join(missing), splits=", ".join(sorted(needed))))

    files: dict[str, Path] = {}  # the files actually read, by role

    def read(split: str) -> tuple[np.ndarray, np.ndarray]:
        images_role, labels_role = SPLIT_ROLES[split]
        files[images_role], files[labels_role] = available[images_role], available[labels_role]
        return _read_pair(available[images_role], available[labels_role])

    train = test = None
    validation = _empty_split("validation")
    if "train_images" in available and ("train" in needed or validation_fraction > 0):
        images, labels = read("train")
        train_rows, validation_rows, test_rows = split_rows(
            labels, seed, test_fraction if holds_out_test else 0.0, validation_fraction)
        if holds_out_test:
            test = _make_split("test", images, labels, test_rows)
        if validation_fraction > 0:
            validation = _make_split("validation", images, labels, validation_rows)
        train = _make_split("train", images, labels,
                            None if train_rows.size == labels.shape[0] else train_rows)
    if not holds_out_test and "test" in required and "test_images" in available:
        test = _make_split("test", *read("test"))

    if verified is not None:
        source = VERIFIED_SOURCE.format(source=spec.source, folder=folder)
    elif spec is not None and data_dir is None:
        source = spec.source if folder == EMBEDDED_DIR else FOLDER_SOURCE.format(
            source=spec.source, folder=folder)
    elif spec is not None:
        source = FOLDER_SOURCE.format(source=spec.source, folder=folder)
    else:
        source = IDX_SOURCE.format(folder=folder)
    return Dataset(
        name=ds_name,
        source=source,
        class_names=spec.class_names if spec is not None else DIGIT_NAMES,
        train=train,
        test=test,
        validation=validation,
        test_is_official=not holds_out_test,
        files=files,
        seed=int(seed),
        test_fraction=float(test_fraction),
        validation_fraction=float(validation_fraction),
    )


class RunSplitSettings(Protocol):
    """What fixes a training run's split: a :class:`~digitlab.config.TrainConfig` has these.

    A run may also have ``data_seed``, the seed of its split when that is not ``seed``
    (ensemble members share one split but differ in everything else).
    """

    dataset: str
    seed: int
    test_fraction: float
    validation_fraction: float


def load_run_dataset(
    run: RunSplitSettings,
    data_dir: str | os.PathLike | None = None,
    *,
    name: str | None = None,
    require: Iterable[str] | str = ("train", "test"),
    cache_dir: str | os.PathLike | None = None,
) -> Dataset:
    """A run's dataset, split exactly as in its training.

    The run's seed, test fraction and validation fraction give the same held-out test and
    validation splits every time. The dataset is ``run.dataset`` unless ``name`` or
    ``data_dir`` is given (a folder without a name is named after itself). Training, the
    studies, evaluation and the analysis all load their data through this one function.
    """
    if name is None and data_dir is None:
        name = run.dataset
    seed = getattr(run, "data_seed", run.seed)
    return load_dataset(name, data_dir, seed=seed, test_fraction=run.test_fraction,
                        validation_fraction=run.validation_fraction, require=require,
                        cache_dir=cache_dir)
