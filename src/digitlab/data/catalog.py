"""The datasets digitlab knows by name: where their files live, where to fetch them, checksums.

Each dataset is four IDX files with the standard MNIST names (``train-images-idx3-ubyte`` ...),
each stored raw or gzipped. The published ``.gz`` files are identified by their SHA-256; a
download is used only if it matches.

Where files are looked for, in order:

1. the folder given explicitly (``data_dir`` / ``--data DIR``);
2. for ``mnist-sample``, the files shipped inside the package (``digitlab/data/embedded``);
3. the cache folder, ``<cache>/<name>/``, where ``digitlab data download NAME`` puts them; the
   cache is ``--cache-dir``, else ``$DIGITLAB_CACHE``, else ``platformdirs.user_cache_dir``;
4. system folders (``/usr/share/datasets/fashion-mnist`` from Debian's
   ``dataset-fashion-mnist``).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import platformdirs

from digitlab.formatting import SAMPLE_SOURCE
from digitlab.i18n import N_
from digitlab.shapes import N_CLASSES

#: File stem of each role, as MNIST publishes them. Each may be raw or end in ``.gz``.
FILE_STEMS: dict[str, str] = {
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}

#: The (images, labels) roles of each split.
SPLIT_ROLES: dict[str, tuple[str, str]] = {
    "train": ("train_images", "train_labels"),
    "test": ("test_images", "test_labels"),
}

DIGIT_NAMES: tuple[str, ...] = tuple(str(d) for d in range(N_CLASSES))
FASHION_NAMES: tuple[str, ...] = (
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
    "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
)

EMBEDDED_DIR = Path(__file__).resolve().parent / "embedded"
CACHE_ENV = "DIGITLAB_CACHE"


@dataclass(frozen=True)
class RemoteFile:
    """A published file: its name, SHA-256 (hex) and size in bytes (None if not known)."""

    name: str
    sha256: str
    size: int | None = None


@dataclass(frozen=True)
class DatasetSpec:
    """What digitlab knows about a named dataset."""

    name: str
    source: str                      # human-readable origin and credit
    class_names: tuple[str, ...]     # 10 names, index = label
    has_official_test: bool          # False: a test split is held out of the training data
    mirrors: tuple[str, ...] = ()    # base URLs tried in order; each file is base + name
    files: tuple[RemoteFile, ...] = ()
    system_dirs: tuple[Path, ...] = ()


MNIST_FILES = (
    RemoteFile("train-images-idx3-ubyte.gz",
               "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609", 9_912_422),
    RemoteFile("train-labels-idx1-ubyte.gz",
               "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c", 28_881),
    RemoteFile("t10k-images-idx3-ubyte.gz",
               "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6", 1_648_877),
    RemoteFile("t10k-labels-idx1-ubyte.gz",
               "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6", 4_542),
)

# The files as Zalando Research publishes them (their gzip headers hold the file name; Debian's
# copies are recompressed without it, so they hold the same data under other checksums).
FASHION_FILES = (
    RemoteFile("train-images-idx3-ubyte.gz",
               "3aede38d61863908ad78613f6a32ed271626dd12800ba2636569512369268a84", 26_421_880),
    RemoteFile("train-labels-idx1-ubyte.gz",
               "a04f17134ac03560a47e3764e11b92fc97de4d1bfaf8ba1a3aa29af54cc90845", 29_515),
    RemoteFile("t10k-images-idx3-ubyte.gz",
               "346e55b948d973a97e58d2351dde16a484bd415d4595297633bb08f03db6a073", 4_422_102),
    RemoteFile("t10k-labels-idx1-ubyte.gz",
               "67da17c76eaffca5446c3361aaab5c3cd6d1c2608764d35dfb1850b086bf8dd5", 5_148),
)

#: the datasets' credits, stored in English (a result file's source), shown translated
MNIST_CREDIT = N_("MNIST database (Y. LeCun, C. Cortes, C. J. C. Burges)")
FASHION_CREDIT = N_(
    "Fashion-MNIST (H. Xiao, K. Rasul, R. Vollgraf, Zalando Research; MIT licence)"
)

SPECS: dict[str, DatasetSpec] = {
    "mnist-sample": DatasetSpec(
        name="mnist-sample",
        source=SAMPLE_SOURCE.format(credit=MNIST_CREDIT),
        class_names=DIGIT_NAMES,
        has_official_test=False,
    ),
    "mnist": DatasetSpec(
        name="mnist",
        source=MNIST_CREDIT,
        class_names=DIGIT_NAMES,
        has_official_test=True,
        mirrors=(
            "https://ossci-datasets.s3.amazonaws.com/mnist/",
            "https://storage.googleapis.com/cvdf-datasets/mnist/",
        ),
        files=MNIST_FILES,
    ),
    "fashion-mnist": DatasetSpec(
        name="fashion-mnist",
        source=FASHION_CREDIT,
        class_names=FASHION_NAMES,
        has_official_test=True,
        mirrors=(
            "https://raw.githubusercontent.com/zalandoresearch/fashion-mnist/master/data/fashion/",
            # Zalando's own bucket serves plain http only; the SHA-256 check still guarantees
            # the content, so it is kept as the last resort.
            "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
        ),
        files=FASHION_FILES,
        system_dirs=(Path("/usr/share/datasets/fashion-mnist"),),
    ),
}

#: The names ``load_dataset`` accepts; the first is the default.
DATASET_NAMES: tuple[str, ...] = tuple(SPECS)
DEFAULT_DATASET = "mnist-sample"
#: the name of a dataset made from arrays given in Python (:mod:`digitlab.data.arrays`): not
#: kept anywhere, so never loaded by name
ARRAYS_NAME = "arrays"


def cache_root(cache_dir: str | os.PathLike | None = None) -> Path:
    """The cache folder: ``cache_dir`` if given, else ``$DIGITLAB_CACHE``, else the user cache."""
    if cache_dir is not None:
        return Path(cache_dir).expanduser()
    from_env = os.environ.get(CACHE_ENV)
    if from_env:
        return Path(from_env).expanduser()
    return Path(platformdirs.user_cache_dir("digitlab"))


def dataset_cache_dir(name: str, cache_dir: str | os.PathLike | None = None) -> Path:
    """The folder where the files of dataset ``name`` are cached: ``<cache>/<name>``."""
    return cache_root(cache_dir) / name


def find_file(folder: Path, role: str) -> Path | None:
    """The file of ``role`` (a key of :data:`FILE_STEMS`) in ``folder``, raw or ``.gz``.

    Also accepts the ``train-images.idx3-ubyte`` spelling some copies use. Returns None if absent.
    """
    stem = FILE_STEMS[role]
    dotted = stem.replace("-idx", ".idx")
    for candidate in (stem, stem + ".gz", dotted, dotted + ".gz"):
        path = folder / candidate
        if path.is_file():
            return path
    return None
