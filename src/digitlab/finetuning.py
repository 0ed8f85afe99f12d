"""Fine-tuning: a trained network taught a few more epochs on someone's own digits.

The digits are an IDX folder such as the lab's ``runs/my-digits`` (the drawings a person
labelled). A stratified share of them (``held_out``) is kept aside to measure, before and
after, how well the network reads that person's handwriting; the rest are trained on, mixed
with ``replay`` times as many digits of the run's own training split so that the network does
not forget MNIST while it learns one hand. Its accuracy on the run's own test split (the MNIST
test tenth of the embedded sample) is measured before and after too.

The fine-tuned network is a new run folder: the source's model file is copied there and the run
continued for ``epochs`` more epochs (``digitlab train --resume``'s path: the same config, the
optimizer's state and the history go on; the curves show both parts), on the fine-tuning
digits. The source is only read. ``finetune.json`` in the new folder records where it came
from and what was measured.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from digitlab.data import Dataset, Split, load_dataset, load_run_dataset
from digitlab.data.splits import split_rows
from digitlab.errors import ConfigError, DataError
from digitlab.fileio import write_json
from digitlab.modelio import MODEL_FILE, SavedModel, load_model, resolve_model_path
from digitlab.models import Model
from digitlab.nn.network import MLP

FINETUNE_FILE = "finetune.json"
HELD_OUT = 0.25  # share of each digit's own samples kept aside to measure
REPLAY = 1.0  # run's own training digits mixed in, per own digit trained on


@dataclass(frozen=True)
class Accuracies:
    """How often a network reads right: the person's held-out digits and the run's own test
    split (None where there is nothing to read)."""

    own: float | None
    test: float | None


@dataclass(frozen=True)
class Finetuning:
    """What :func:`finetune` did and measured."""

    run_dir: Path
    source: Path
    digits: Path
    epochs: int  # epochs of fine-tuning
    trained_on: int  # own digits trained on
    held_out: int  # own digits kept aside to measure
    replayed: int  # digits of the run's own training split mixed in
    before: Accuracies
    after: Accuracies
    #: how the training ended: "completed", or "interrupted" (Ctrl-C: the last completed epoch
    #: is kept and measured)
    status: str = "completed"

    def to_dict(self) -> dict[str, Any]:
        record = asdict(self)
        record.update(run_dir=str(self.run_dir), source=str(self.source),
                      digits=str(self.digits))
        return record


def finetune(source: str | os.PathLike, digits: str | os.PathLike, out: str | os.PathLike, *,
             epochs: int = 3, held_out: float = HELD_OUT, replay: float = REPLAY, seed: int = 0,
             progress: bool = False, callbacks: Any = None) -> Finetuning:
    """Fine-tune the network of run ``source`` on the digits of the IDX folder ``digits``
    (its training files) for ``epochs`` more epochs, into the new run folder ``out``; see the
    module docstring. ``callbacks`` (:class:`digitlab.training.Callbacks`) follow the training
    as they follow :func:`digitlab.train` (the lab's progress).

    Raises :class:`ConfigError` for a bad value, an ensemble, a run that stopped early or an
    ``out`` that exists; :class:`DataError` when the digits cannot be read or are too few
    to keep some aside.
    """
    if isinstance(epochs, bool) or not isinstance(epochs, int) or epochs < 1:
        raise ConfigError(f"epochs must be a positive integer, got {epochs!r}")
    if not 0.0 < held_out < 1.0:
        raise ConfigError(f"held_out must lie strictly between 0 and 1, got {held_out!r}")
    if not replay >= 0.0:
        raise ConfigError(f"replay must be >= 0, got {replay!r}")
    saved = _source_run(source)
    out = Path(out)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise ConfigError(f"{out}: exists; fine-tuning writes a new run folder")
    config = saved.config
    assert config is not None  # checked by _source_run
    own = load_dataset(None, digits, require=("train",)).train
    mine, aside = _split_own(own, held_out, seed, Path(digits))
    run_data = load_run_dataset(config)  # the run's own splits, as it was trained
    replayed = _replay(run_data.train, round(replay * len(mine)), seed)
    data = _finetuning_data(run_data, mine, replayed)
    before = _accuracies(saved.model, aside, run_data.test)

    from digitlab.training import train

    done = check_source(saved)
    out.mkdir(parents=True, exist_ok=True)
    try:
        shutil.copyfile(saved.path, out / MODEL_FILE)  # continued there, never in place
        trained = train(config.replace(epochs=done + epochs), data, run_dir=out, resume=True,
                        progress=progress, callbacks=callbacks)
        if trained.status == "interrupted" and len(trained.history.epochs) == done:
            raise KeyboardInterrupt  # Ctrl-C before a first epoch: nothing to keep
    except BaseException:
        shutil.rmtree(out, ignore_errors=True)  # nothing half-made is left behind
        raise
    after = _accuracies(load_model(out).model, aside, run_data.test)
    result = Finetuning(out, saved.path.parent, Path(digits), epochs, len(mine), len(aside),
                        len(replayed), before, after, trained.status)
    write_json(out / FINETUNE_FILE, result.to_dict())
    return result


def _source_run(source: str | os.PathLike) -> SavedModel:
    """The single network of run ``source`` with its training config."""
    path = Path(source)
    if (path / "ensemble.json").is_file():
        raise ConfigError(f"{path}: an ensemble; fine-tune one of its networks instead")
    saved = load_model(resolve_model_path(path))
    check_source(saved)
    return saved


def check_source(saved: SavedModel) -> int:
    """Refuse a model that cannot be continued (no training config, an ensemble, a run that
    stopped early); the epochs it has completed."""
    if not isinstance(saved.network, MLP):
        raise ConfigError(f"{saved.path}: an ensemble; fine-tune one of its networks instead")
    if saved.config is None:
        raise ConfigError(f"{saved.path}: holds no training config to fine-tune from")
    epochs = saved.metadata.get("history", {}).get("epochs", [])
    if epochs and epochs[-1].get("restored_best_epoch"):
        raise ConfigError(f"{saved.path}: stopped early (early_stopping), so it trains no "
                          "further; fine-tune a run trained without early stopping")
    return len(epochs)


def held_out_rows(labels: np.ndarray, held_out: float = HELD_OUT, seed: int = 0
                  ) -> tuple[np.ndarray, np.ndarray]:
    """The rows of the person's digits (labels (N,)) to train on and those kept aside: a
    stratified ``held_out`` share of each digit (by ``seed``); either may be empty when there
    are too few digits."""
    train_rows, _, test_rows = split_rows(np.asarray(labels), seed, held_out, 0.0)
    return train_rows, test_rows


def _split_own(own: Split, held_out: float, seed: int, folder: Path) -> tuple[Split, Split]:
    """The person's digits to train on and those kept aside (:func:`held_out_rows`)."""
    train_rows, test_rows = held_out_rows(own.labels, held_out, seed)
    if len(train_rows) == 0 or len(test_rows) == 0:
        raise DataError(f"{folder}: {len(own)} digits are too few to train on some and keep "
                        f"{held_out:.0%} of each digit aside; label more")
    return _rows(own, train_rows, "train"), _rows(own, test_rows, "test")


def _replay(train: Split, count: int, seed: int) -> Split:
    """``count`` digits of the run's own training split, drawn without replacement."""
    count = min(count, len(train))
    rows = np.sort(np.random.default_rng(seed).permutation(len(train))[:count])
    return _rows(train, rows, "train")


def _rows(split: Split, rows: np.ndarray, name: str) -> Split:
    return Split(name, split.images[rows], split.labels[rows], split.indices[rows])


def _finetuning_data(run_data: Dataset, mine: Split, replayed: Split) -> Dataset:
    """The run's dataset with its training split replaced by the person's digits and the
    replayed ones (its test and validation splits as they were: the curves go on)."""
    train = Split("train", np.concatenate([mine.images, replayed.images]),
                  np.concatenate([mine.labels, replayed.labels]),
                  np.concatenate([mine.indices, replayed.indices]))
    return Dataset(run_data.name, run_data.source, run_data.class_names, train, run_data.test,
                   run_data.validation, run_data.test_is_official, seed=run_data.seed,
                   test_fraction=run_data.test_fraction,
                   validation_fraction=run_data.validation_fraction)


def _accuracies(model: Model, own: Split, test: Split | None) -> Accuracies:
    def accuracy(split: Split | None) -> float | None:
        if split is None or len(split) == 0:
            return None
        return float(np.mean(model.classify(split.images) == split.labels))

    return Accuracies(accuracy(own), accuracy(test))
