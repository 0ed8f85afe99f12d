"""Ensembles: several trained networks that answer together by averaging their probabilities.

p(k | x) = (1/M) Σ_m p_m(k | x) over the M members, each fed as it was trained (its own
preprocessing). An ensemble behaves like a network with a softmax output for everything that
reads digits — ``predict``, ``probabilities``, ``classify``, ``targets`` — so ``evaluate``,
``analyze`` and ``predict`` take one like a single model.

On disk an ensemble is a folder::

    ensemble.json          format, the members' file names and where they came from
    members/00.npz ...     each member's model file (weights, config; no optimizer state)

All members must share the test split (dataset, split seed and fractions): otherwise some
member would have trained on digits the ensemble is tested on.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from digitlab.errors import DataError, ModelFileError
from digitlab.fileio import read_json, write_json
from digitlab.modelio import SavedModel, load_model, save_model
from digitlab.models import Model
from digitlab.nn.activations import get_activation
from digitlab.nn.losses import Loss
from digitlab.nn.network import ForwardPass

ENSEMBLE_FILE = "ensemble.json"
FORMAT_NAME = "digitlab-ensemble"
SPLIT_FIELDS = ("dataset", "test_fraction", "validation_fraction")
MAX_DESCRIPTION_BYTES = 1 << 20  # ensemble.json lists a few member files


class Ensemble:
    """The average of the members' class probabilities; outputs (N, n_classes) sum to one.

    Meets :class:`~digitlab.models.Model`, like each of its members.
    """

    def __init__(self, members: list[Model]):
        if not members:
            raise ModelFileError("an ensemble needs at least one member")
        sizes = {(m.sizes[0], m.sizes[-1]) for m in members}
        if len(sizes) != 1:
            raise ModelFileError(f"ensemble members differ in input/output sizes: {sorted(sizes)}")
        self.members = list(members)
        first = members[0]
        self.sizes = list(first.sizes)  # the first member's layers (all share input and output)
        self.activation_names = list(first.activation_names)
        self.dtype = np.dtype(first.dtype)
        self.output_activation = get_activation("softmax")  # outputs are probabilities

    def predict(self, x: np.ndarray, batch_size: int = 2048) -> np.ndarray:
        """Mean of the members' probabilities, (N, n_classes)."""
        total = None
        for member in self.members:
            p = member.probabilities(x, batch_size)
            total = p.astype(np.float64) if total is None else total + p
        return (total / len(self.members)).astype(self.dtype)

    def probabilities(self, x: np.ndarray, batch_size: int = 2048) -> np.ndarray:
        return self.predict(x, batch_size)

    def forward(self, x: np.ndarray,
                masks: list[np.ndarray | None] | None = None) -> ForwardPass:
        """A trace whose output is the mean probability p (B, n) and whose logits are log p
        (softmax(log p) = p, so logit-based scores such as the energy stay meaningful)."""
        p = self.predict(x)
        return ForwardPass([np.asarray(x), p], [np.log(np.maximum(p, 1e-30))])

    def output_layer(self, x: np.ndarray, batch_size: int = 2048
                     ) -> tuple[np.ndarray, np.ndarray]:
        """(log p, p): the mean probability and its logarithm as the logits (see forward)."""
        p = self.predict(x, batch_size)
        return np.log(np.maximum(p, 1e-30)), p

    def output_to_probabilities(self, y: np.ndarray, z: np.ndarray | None = None) -> np.ndarray:
        return y

    def classify(self, x: np.ndarray, batch_size: int = 2048) -> np.ndarray:
        return self.predict(x, batch_size).argmax(axis=1)

    def targets(self, labels: np.ndarray, loss: Loss) -> np.ndarray:
        return loss.targets(labels, self.sizes[-1], 0.0, self.dtype)


def is_ensemble(path: str | os.PathLike) -> bool:
    """Whether ``path`` is an ensemble folder (it holds ``ensemble.json``)."""
    return (Path(path) / ENSEMBLE_FILE).is_file()


def save_ensemble(sources: list[str | os.PathLike], out_dir: str | os.PathLike) -> Path:
    """Gather the models ``sources`` (files or run folders) into a new ensemble folder."""
    out_dir = Path(out_dir)
    if out_dir.exists() and any(out_dir.iterdir()):
        raise ModelFileError(f"{out_dir}: exists and is not empty; choose a new folder")
    saved = [load_model(source) for source in sources]
    check_same_widths(saved)
    check_same_split(saved)
    (out_dir / "members").mkdir(parents=True, exist_ok=True)
    names = []
    for index, model in enumerate(saved):
        name = f"members/{index:02d}.npz"
        extra = {k: model.metadata[k] for k in ("epoch", "history") if k in model.metadata}
        save_model(out_dir / name, model.network, config=model.config, extra=extra)
        names.append(name)
    write_json(out_dir / ENSEMBLE_FILE, {
        "format": FORMAT_NAME, "format_version": 1, "members": names,
        "sources": [str(model.path) for model in saved],
    })
    return out_dir


def read_ensemble(path: str | os.PathLike) -> tuple[dict[str, Any], list[Path]]:
    """An ensemble folder's checked description (``ensemble.json``) and its members' model
    files, without reading them (for listings); every failure is a one-line
    :class:`ModelFileError` naming the file."""
    path = Path(path)
    file = path / ENSEMBLE_FILE
    try:
        metadata: Any = read_json(file, max_bytes=MAX_DESCRIPTION_BYTES)
    except DataError as error:
        raise ModelFileError(f"cannot read ensemble description ({error})") from None
    members = metadata.get("members") if isinstance(metadata, dict) else None
    if (not isinstance(metadata, dict) or metadata.get("format") != FORMAT_NAME
            or not isinstance(members, list) or not members):
        raise ModelFileError(f"{file}: not a digitlab ensemble (needs format {FORMAT_NAME!r} "
                             "and a list of members)")
    files = []
    for name in members:
        member = (path / str(name)).resolve()
        if path.resolve() not in member.parents:
            raise ModelFileError(f"{file}: member {name!r} lies outside the ensemble folder")
        files.append(member)
    return metadata, files


def load_ensemble(path: str | os.PathLike) -> SavedModel:
    """An ensemble folder as a :class:`digitlab.modelio.SavedModel` whose network is an
    :class:`Ensemble` (members with their preprocessing) and whose config is the first
    member's (it fixes the shared test split)."""
    metadata, files = read_ensemble(path)
    saved = [load_model(member) for member in files]
    check_same_split(saved)
    network = Ensemble([model.model for model in saved])
    return SavedModel(network, saved[0].config, metadata, path=Path(path))


def check_same_widths(saved: list[SavedModel]) -> None:
    """Refuse members that read another number of inputs, or into another number of classes,
    than the first (digits: 784 into 10; networks trained on arrays: their own widths)."""
    first = saved[0]
    widths = (first.network.sizes[0], first.network.sizes[-1])
    for model in saved[1:]:
        sizes = model.network.sizes
        if (sizes[0], sizes[-1]) != widths:
            raise ModelFileError(f"{model.path}: the network reads {sizes[0]} inputs into "
                                 f"{sizes[-1]} outputs; the first member ({first.path}) reads "
                                 f"{widths[0]} inputs into {widths[1]}: an ensemble's members "
                                 "must agree")


def check_same_split(saved: list[SavedModel]) -> None:
    """Refuse members whose held-out test digits differ (one member's test digits would be
    another's training digits)."""
    splits = set()
    for model in saved:
        config = model.config
        if config is None:
            raise ModelFileError(f"{model.path}: holds no training config, so its test split "
                                 "is unknown; an ensemble needs it")
        splits.add((config.data_seed, *(getattr(config, f) for f in SPLIT_FIELDS)))
    if len(splits) > 1:
        raise ModelFileError(
            "ensemble members were split differently (dataset, split seed, fractions: "
            f"{sorted(splits)}); train them with the same --split-seed"
        )
