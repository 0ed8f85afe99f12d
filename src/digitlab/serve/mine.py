"""Your own digits: drawings the person labelled in the lab, kept as a standard IDX dataset.

The digits live in ``<runs>/my-digits/`` as ``t10k-images-idx3-ubyte`` /
``t10k-labels-idx1-ubyte`` (and the same digits as ``train-*``, so that the folder is a complete
``--data`` folder: ``digitlab evaluate RUN --data runs/my-digits`` reads them). Each image is
the 28×28 picture the network read (the lab's MNIST-style preparation), 0–255. Adding a digit
appends to the files: each is rewritten whole to a temporary file and moved into place, so a
reader never sees a half-written file.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import numpy as np

from digitlab.data.idx import read_idx, write_idx
from digitlab.errors import DigitlabError
from digitlab.finetuning import HELD_OUT, check_source, held_out_rows
from digitlab.preprocessing import preprocess
from digitlab.serve.errors import ApiError
from digitlab.serve.language import _
from digitlab.serve.models import LoadedModel

FOLDER = "my-digits"
MAX_DIGITS = 20_000  # a person draws far fewer; this keeps each rewrite small
FILES = {"images": ("t10k-images-idx3-ubyte", "train-images-idx3-ubyte"),
         "labels": ("t10k-labels-idx1-ubyte", "train-labels-idx1-ubyte")}


class MyDigits:
    """The labelled drawings of ``runs_dir``'s ``my-digits`` folder (one writer at a time)."""

    def __init__(self, runs_dir: str | Path):
        self.folder = Path(runs_dir) / FOLDER
        self._lock = threading.Lock()

    def read(self) -> tuple[np.ndarray, np.ndarray]:
        """Images (N, 28, 28) uint8 and labels (N,) uint8; empty when none was kept yet."""
        images_file, labels_file = (self.folder / FILES[k][0] for k in ("images", "labels"))
        if not images_file.is_file() or not labels_file.is_file():
            return np.zeros((0, 28, 28), np.uint8), np.zeros(0, np.uint8)
        images, labels = read_idx(images_file), read_idx(labels_file)
        if images.ndim != 3 or images.shape[1:] != (28, 28) or labels.shape != images.shape[:1]:
            raise ApiError(422, _("{folder} does not hold 28×28 digits with one label each")
                           .format(folder=self.folder))
        return images.astype(np.uint8), labels.astype(np.uint8)

    def summary(self, images=None, labels=None) -> dict[str, Any]:
        if labels is None:
            images, labels = self.read()
        return {"count": int(labels.size), "per_digit": np.bincount(labels, minlength=10)
                .astype(int).tolist()[:10], "folder": str(self.folder)}

    def add(self, image: np.ndarray, label: int) -> dict[str, Any]:
        """Append one prepared image (784,) in [0, 1] with its digit; the new summary."""
        pixels = np.round(np.clip(np.asarray(image, np.float64), 0.0, 1.0) * 255).astype(np.uint8)
        with self._lock:
            images, labels = self.read()
            if labels.size >= MAX_DIGITS:
                raise ApiError(422, _("{folder} holds {n} digits already").format(
                    folder=self.folder, n=MAX_DIGITS))
            images = np.concatenate([images, pixels.reshape(1, 28, 28)])
            labels = np.concatenate([labels, np.array([label], np.uint8)])
            self.folder.mkdir(parents=True, exist_ok=True)
            for name in FILES["images"]:
                write_idx(self.folder / name, images, compress=False)
            for name in FILES["labels"]:
                write_idx(self.folder / name, labels, compress=False)
            return self.summary(images, labels)

    def labels(self) -> np.ndarray:
        """The labels (N,) of the kept digits."""
        return self.read()[1]

    def accuracy(self, loaded: LoadedModel) -> dict[str, Any]:
        """How many of the kept digits ``loaded`` reads right, per digit too, beside its
        accuracy on the MNIST test digits of its run."""
        images, labels = self.read()
        result: dict[str, Any] = {"model": loaded.entry.id, "count": int(labels.size),
                                  "right": 0, "accuracy": None, "per_digit": [None] * 10,
                                  "test_accuracy": loaded.entry.test_accuracy}
        if not labels.size:
            return result
        x = preprocess(images.reshape(-1, 784).astype(np.float64) / 255.0, loaded.preprocessing)
        read = loaded.network.probabilities(x.astype(loaded.network.dtype)).argmax(axis=1)
        right = read == labels
        result.update(right=int(right.sum()), accuracy=float(right.mean()),
                      per_digit=[float(right[labels == d].mean()) if (labels == d).any() else None
                                 for d in range(10)])
        return result


def finetunable(loaded: LoadedModel, digits: MyDigits) -> int:
    """Check that ``loaded`` can be fine-tuned on the kept digits (one network that can go on
    training; enough digits to train on some and keep some of each aside); the epochs it has
    completed. 422 with the reason otherwise."""
    if loaded.is_ensemble:
        raise ApiError(422, _("{model!r} is an ensemble: fine-tune one of its networks").format(
            model=loaded.entry.id))
    try:
        done = check_source(loaded.saved)
    except DigitlabError as error:  # the library's own words for why
        raise ApiError(422, _("{model!r} cannot be fine-tuned: {reason}").format(
            model=loaded.entry.id, reason=str(error).replace(f"{loaded.saved.path}: ", ""))
        ) from None
    train_rows, held_rows = held_out_rows(digits.labels(), HELD_OUT)
    if not len(train_rows) or not len(held_rows):
        raise ApiError(422, _("keep more of your digits first: a quarter of each digit is kept "
                              "aside to measure, so at least three of one digit are needed"))
    return done
