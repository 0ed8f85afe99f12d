"""Data: the IDX file format, the datasets digitlab knows, their splits and their download.

Modules, one idea each:

* :mod:`~digitlab.data.idx` -- read and write IDX files (raw or gzip), strictly validated.
* :mod:`~digitlab.data.catalog` -- the named datasets: files, mirrors, checksums, folders.
* :mod:`~digitlab.data.splits` -- stratified, seeded hold-out of a labelled set.
* :mod:`~digitlab.data.download` -- fetch published files, verified by SHA-256.
* :mod:`~digitlab.data.datasets` -- :func:`load_dataset`, :class:`Dataset`, :class:`Split`, and
  :func:`load_run_dataset`, a training run's data split as in its training.
* :mod:`~digitlab.data.arrays` -- a :class:`Dataset` from one's own arrays (N, d) and labels,
  checked and split like the embedded sample.
* :mod:`~digitlab.data.outliers` -- images that are no digit, and a pool of them, for training
  a network to say so (outlier exposure).

This package knows nothing of networks: it hands out arrays, ``images`` of shape (N, 784) as
float32 in [0, 1] (or (N, d) features, from arrays) and ``labels`` of shape (N,) as int64.
"""

from digitlab.data.arrays import dataset_from_arrays
from digitlab.data.catalog import (
    ARRAYS_NAME,
    DATASET_NAMES,
    DEFAULT_DATASET,
    cache_root,
    dataset_cache_dir,
)
from digitlab.data.datasets import (
    IMAGE_SHAPE,
    N_CLASSES,
    N_PIXELS,
    Dataset,
    RunSplitSettings,
    Split,
    load_dataset,
    load_run_dataset,
)
from digitlab.data.download import download_dataset
from digitlab.data.idx import read_idx, write_idx

__all__ = [
    "ARRAYS_NAME",
    "DATASET_NAMES",
    "DEFAULT_DATASET",
    "IMAGE_SHAPE",
    "N_CLASSES",
    "N_PIXELS",
    "Dataset",
    "RunSplitSettings",
    "Split",
    "cache_root",
    "dataset_cache_dir",
    "dataset_from_arrays",
    "download_dataset",
    "load_dataset",
    "load_run_dataset",
    "read_idx",
    "write_idx",
]
