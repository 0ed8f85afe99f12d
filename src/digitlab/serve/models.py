"""The runs a server offers: found under ``--runs``, named by id, loaded once and cached.

A model's id is its run folder's path relative to the runs folder (``assignment``,
``lab/report-2``); clients only ever send ids, never paths. An ensemble folder (``digitlab
ensemble``) is offered like a run: its members answer together. Listing reads each model file's
``metadata.json`` through :func:`digitlab.modelio.read_metadata` and the run's
``evaluation.json`` through :func:`digitlab.fileio.read_json`, with their size and depth limits
(the arrays stay on disk); a run that cannot be read is listed as unreadable with its one-line
reason, and the others are offered as usual. A network is loaded on first use and reloaded only
when its file changes (a training writes a new checkpoint every epoch). The test split of the
run's own data (reproduced from its config, as ``digitlab evaluate`` does) and the network's
answers on it are cached per model for the quiz and the reference scores of the probes.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

from digitlab.calibration import CHECK_ARRAYS, Calibration, calibration_fields
from digitlab.config import PRESETS, TrainConfig
from digitlab.ensembles import ENSEMBLE_FILE, read_ensemble
from digitlab.errors import DigitlabError, ModelFileError
from digitlab.fileio import read_json
from digitlab.loading import load_any
from digitlab.modelio import MODEL_FILE, SavedModel, check_digit_shape, load_model, read_metadata
from digitlab.nn.network import MLP
from digitlab.runfiles import EVALUATION_FILE
from digitlab.serve.errors import ApiError
from digitlab.serve.language import _

#: folders not searched for runs (a report's cache keeps its own copies of runs)
SKIPPED_FOLDERS = {".git", "__pycache__", "node_modules", ".venv"}
MAX_DEPTH = 4  # run folders are found at most this deep under the runs folder
MAX_LOADED = 8  # networks kept in memory (the least recently loaded is dropped first)
Stamp = tuple[int, int]  # (mtime_ns, size) of a file: a new version changes it


@dataclass
class ModelEntry:
    """One run as the server lists it (from its metadata; the arrays are not read): a network
    (``model.npz``) or an ensemble folder (``ensemble.json``; ``members`` holds each member's
    metadata, ``metadata`` describes it by its first member's architecture and config)."""

    id: str
    folder: Path
    metadata: dict[str, Any]
    stamp: Stamp  # of model.npz (ensemble.json): a new checkpoint changes it
    test_accuracy: float | None = None
    evaluation_stamp: Stamp | None = None  # of evaluation.json, None without one
    members: list[dict[str, Any]] = field(default_factory=list)  # an ensemble's, else none

    @property
    def model_file(self) -> Path:
        return self.folder / (ENSEMBLE_FILE if self.members else MODEL_FILE)

    @property
    def config(self) -> dict[str, Any]:
        return self.metadata.get("config") or {}

    @property
    def history(self) -> dict[str, Any]:
        return self.metadata.get("history") or {}

    def describe(self, training: bool = False) -> dict[str, Any]:
        """The Model object of the API (see docs/serve-api.md)."""
        architecture = self.metadata.get("architecture", {})
        config = self.config
        sizes = [int(n) for n in architecture.get("sizes", [])]
        parameters = sum(_parameters(m.get("architecture", {}))
                         for m in self.members or [self.metadata])
        return {
            "id": self.id,
            "name": self.folder.name,
            "sizes": sizes,
            "activations": list(architecture.get("activations", [])),
            "loss": config.get("loss"),
            "optimizer": config.get("optimizer", self.metadata.get("optimizer")),
            "lr": config.get("lr"),
            "batch_size": config.get("batch_size"),
            "epochs": len(self.history.get("epochs", [])) or self.metadata.get("epoch"),
            "preset": matching_preset(config),
            "test_accuracy": self.test_accuracy,
            "parameters": parameters,
            "modified": datetime.fromtimestamp(self.stamp[0] / 1e9, timezone.utc)
            .isoformat(timespec="seconds"),
            "training": training,
            "members": len(self.members) or None,
            **calibration_fields(self.calibration),
            # the test's arrays are read with the network; the metadata says it is there
            "hidden_test": isinstance(self.metadata.get("calibration"), dict)
            and self.metadata["calibration"].get("hidden_threshold") is not None,
        }

    @property
    def calibration(self) -> Calibration | None:
        """The run's calibration from its metadata (checked when the metadata was read)."""
        data = self.metadata.get("calibration")
        try:
            return None if data is None else Calibration.from_dict(data)
        except DigitlabError:
            return None

    def history_columns(self) -> dict[str, list[Any]]:
        """Per-epoch metrics as columns (lists may hold None)."""
        records = self.history.get("epochs", [])
        names = ("epoch", "train_loss", "train_accuracy", "validation_loss",
                 "validation_accuracy", "test_loss", "test_accuracy")
        return {name: [finite_or_none(r.get(name)) for r in records] for name in names}


@dataclass(frozen=True)
class UnreadableRun:
    """A run folder whose model file or evaluation cannot be read, and why (one line)."""

    id: str
    folder: Path
    reason: str
    stamps: tuple[Stamp | None, Stamp | None]  # of model.npz and evaluation.json

    def describe(self) -> dict[str, Any]:
        """The Unreadable object of the API (see docs/serve-api.md)."""
        return {"id": self.id, "name": self.folder.name, "error": self.reason}


def _parameters(architecture: dict[str, Any]) -> int:
    """Weights (and biases) of a network of the architecture a model file's metadata gives."""
    sizes = [int(n) for n in architecture.get("sizes", [])]
    bias = bool(architecture.get("bias", False))
    return sum(n_in * n_out + (n_out if bias else 0)
               for n_in, n_out in zip(sizes[:-1], sizes[1:], strict=False))


def finite_or_none(value: Any) -> Any:
    """JSON has no NaN: a missing or non-finite number becomes None."""
    if isinstance(value, float) and not np.isfinite(value):
        return None
    return value


def matching_preset(config: dict[str, Any]) -> str | None:
    """The preset whose training choices ``config`` has (epochs, seed and data aside)."""
    ignored = {"epochs", "seed", "dataset", "max_train_samples", "trace_every"}
    for name, preset in PRESETS.items():
        fields = {k: v for k, v in preset.to_dict().items() if k not in ignored}
        if all(config.get(k) == v for k, v in fields.items()):
            return name
    return None


@dataclass
class LoadedModel:
    """A network ready to answer, with its test split's answers once they are needed."""

    entry: ModelEntry
    saved: SavedModel
    test: dict[str, np.ndarray] | None = None  # images, labels, probabilities (cached)
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def network(self):
        """The bare MLP, fed inputs after the model's preprocessing (see :attr:`reader`)."""
        return self.saved.network

    @property
    def is_ensemble(self) -> bool:
        """Several networks answering together: no single network's gradients and units to
        show, nothing for a dream to climb."""
        return not isinstance(self.saved.network, MLP)

    @property
    def reader(self):
        """The network as it reads raw 28×28 digits: its preprocessing (e.g. deskew) first."""
        return self.saved.model

    @property
    def preprocessing(self) -> list[str]:
        return list(self.saved.preprocessing)

    @property
    def calibration(self) -> Calibration | None:
        """The temperature (and "not a digit" threshold) :attr:`reader` applies, if any."""
        return self.saved.calibration

    @property
    def config(self) -> TrainConfig:
        return self.saved.config if self.saved.config is not None else TrainConfig()

    def test_split(self) -> dict[str, np.ndarray]:
        """Images (N, 784), labels (N,) and this network's probabilities (N, 10), calibrated
        when the run is, on the run's own test split, reproduced from its config as the
        other commands do."""
        with self.lock:
            if self.test is None:
                self.test = _answers_on_test_split(self)
            return self.test


def _answers_on_test_split(model: LoadedModel) -> dict[str, np.ndarray]:
    from digitlab.data import load_run_dataset

    config = model.config
    try:
        dataset = load_run_dataset(config, require=("test",))
    except DigitlabError as error:
        raise ApiError(409, _("model {model!r}: its test data cannot be loaded ({error})")
                       .format(model=model.entry.id, error=error)) from None
    images, labels = dataset.test.images, dataset.test.labels  # (N, 784), (N,)
    probabilities = model.reader.probabilities(images)  # (N, 10)
    return {"images": images, "labels": labels, "probabilities": probabilities}


class ModelRegistry:
    """The runs under one folder; thread-safe (endpoints run in a thread pool)."""

    def __init__(self, runs_dir: str | Path):
        self.runs_dir = Path(runs_dir)
        self.active: str | None = None
        self._entries: dict[str, ModelEntry] = {}
        self._unreadable: dict[str, UnreadableRun] = {}
        self._loaded: dict[str, LoadedModel] = {}
        self._lock = threading.Lock()

    # ------------------------------------------------------------------ listing
    def scan(self) -> list[ModelEntry]:
        """Find the runs now under the runs folder (re-reading only changed files); those that
        cannot be read are kept aside (see :meth:`unreadable`)."""
        found: dict[str, ModelEntry] = {}
        unreadable: dict[str, UnreadableRun] = {}
        for model_file in self._model_files():
            folder = model_file.parent
            run_id = self._id_of(folder)
            stamps = (_stamp(model_file), _stamp(folder / EVALUATION_FILE))
            if stamps[0] is None:
                continue  # gone since it was found
            old = self._entries.get(run_id)
            old_unreadable = self._unreadable.get(run_id)
            if old is not None and (old.stamp, old.evaluation_stamp) == stamps:
                found[run_id] = old
            elif old_unreadable is not None and old_unreadable.stamps == stamps:
                unreadable[run_id] = old_unreadable
            else:
                try:
                    found[run_id] = _read_entry(run_id, folder, stamps)
                except DigitlabError as error:
                    reason = " ".join(str(error).replace(f"{folder}{os.sep}", "").split())
                    unreadable[run_id] = UnreadableRun(run_id, folder, reason, stamps)
        with self._lock:
            self._entries, self._unreadable = found, unreadable
            if self.active not in found:
                self.active = _default_active(found)
        return sorted(found.values(), key=lambda e: e.id)

    def unreadable(self) -> list[UnreadableRun]:
        """The run folders the last :meth:`scan` found but could not read, by id."""
        with self._lock:
            return sorted(self._unreadable.values(), key=lambda u: u.id)

    def _model_files(self) -> list[Path]:
        if not self.runs_dir.is_dir():
            return []
        files, frontier = [], [(self.runs_dir, 0)]
        while frontier:
            folder, depth = frontier.pop()
            if (folder / MODEL_FILE).is_file():
                files.append(folder / MODEL_FILE)
            elif (folder / ENSEMBLE_FILE).is_file():
                files.append(folder / ENSEMBLE_FILE)
            if depth >= MAX_DEPTH:
                continue
            try:
                children = [p for p in folder.iterdir() if p.is_dir() and not p.is_symlink()]
            except OSError:
                continue
            frontier.extend((c, depth + 1) for c in children
                            if c.name not in SKIPPED_FOLDERS and not c.name.startswith("."))
        return files

    def _id_of(self, folder: Path) -> str:
        relative = folder.relative_to(self.runs_dir).as_posix()
        return relative if relative != "." else self.runs_dir.resolve().name

    def entry(self, run_id: str | None) -> ModelEntry:
        """The listed run ``run_id`` (the active one when None); 404 when there is none."""
        if run_id is None:
            self.scan()
            run_id = self.active
            if run_id is None:
                raise ApiError(404, _("no model yet: train one first (POST /api/train)"))
        if not isinstance(run_id, str) or len(run_id) > 200:
            raise ApiError(422, _("a model id must be a string of at most 200 characters"))
        entry = self._entries.get(run_id)
        if entry is None:
            entry = next((e for e in self.scan() if e.id == run_id), None)
        unreadable = self._unreadable.get(run_id)
        if entry is None and unreadable is not None:
            raise ApiError(422, _("model {model!r} cannot be read: {reason}").format(
                model=run_id, reason=unreadable.reason))
        if entry is None:
            raise ApiError(404, _("unknown model id {model!r}; GET /api/models lists them")
                           .format(model=run_id[:80]))
        return entry

    def set_active(self, run_id: Any) -> str:
        if not isinstance(run_id, str):
            raise ApiError(422, _("'id' must be a model id (a string), got {value!r:.60}")
                           .format(value=run_id))
        entry = self.entry(run_id)
        with self._lock:
            self.active = entry.id
        return entry.id

    # ------------------------------------------------------------------ loading
    def load(self, run_id: str | None) -> LoadedModel:
        """The network of run ``run_id`` (the active run when None), loaded once per file
        version."""
        entry = self.entry(run_id)
        with self._lock:
            cached = self._loaded.get(entry.id)
            if cached is not None and cached.entry.stamp == entry.stamp:
                return cached
        try:
            saved = load_any(entry.folder) if entry.members else load_model(entry.model_file)
        except DigitlabError as error:
            raise ApiError(422, _("model {model!r} cannot be loaded: {error}").format(
                model=entry.id, error=error)) from None
        kept = {name: saved.extra_arrays[name] for name in CHECK_ARRAYS
                if name in saved.extra_arrays}  # the calibration's hidden-layer test
        saved.optimizer_state, saved.extra_arrays = {}, kept  # the network is all else needed
        loaded = LoadedModel(entry, saved)
        with self._lock:
            self._loaded.pop(entry.id, None)
            self._loaded[entry.id] = loaded  # the most recently loaded last
            while len(self._loaded) > MAX_LOADED:
                self._loaded.pop(next(iter(self._loaded)))
        return loaded


def _stamp(path: Path) -> Stamp | None:
    """(mtime_ns, size) of the file ``path``, None when there is none."""
    try:
        stat = path.stat()
    except OSError:
        return None
    return (stat.st_mtime_ns, stat.st_size)


def _read_entry(run_id: str, folder: Path, stamps: tuple[Stamp, Stamp | None]) -> ModelEntry:
    """The run (or ensemble) in ``folder`` as the server lists it; a :class:`DigitlabError`
    (one line) when a model file, the ensemble's description or the evaluation cannot be read,
    or it does not read 28×28 digits."""
    members = []
    if (folder / MODEL_FILE).is_file():
        metadata = _read_digit_reader(folder / MODEL_FILE)
    else:
        _, files = read_ensemble(folder)
        members = [_read_digit_reader(file) for file in files]
        metadata = {k: members[0][k] for k in ("architecture", "config") if k in members[0]}
    entry = ModelEntry(run_id, folder, metadata, stamps[0], evaluation_stamp=stamps[1],
                       members=members)
    entry.test_accuracy = _test_accuracy(entry)
    return entry


def _read_digit_reader(model_file: Path) -> dict[str, Any]:
    """The checked metadata of a model file that reads 28×28 digits into 10 classes."""
    metadata = read_metadata(model_file)  # checked: size, depth, format, architecture
    check_digit_shape(model_file, metadata["architecture"]["sizes"])
    _check_history(model_file, metadata.get("history"))
    return metadata


def _check_history(model_file: Path, history: Any) -> None:
    """A model's training history must be a table whose ``epochs`` are tables, if it has one."""
    epochs = history.get("epochs", []) if isinstance(history, dict) else None
    if history is not None and (not isinstance(epochs, list)
                                or not all(isinstance(e, dict) for e in epochs)):
        raise ModelFileError(f"{model_file}: metadata has an invalid 'history' entry")


def _test_accuracy(entry: ModelEntry) -> float | None:
    """From the run's evaluation.json (read within limits), else from the last epoch of its
    history."""
    if entry.evaluation_stamp is not None:
        evaluation = read_json(entry.folder / EVALUATION_FILE)
        if isinstance(evaluation, dict) and isinstance(evaluation.get("accuracy"), float):
            return finite_or_none(evaluation["accuracy"])
    epochs = entry.history.get("epochs") or []
    value = epochs[-1].get("test_accuracy") if epochs else None
    return finite_or_none(value) if isinstance(value, (int, float)) else None


def _default_active(entries: dict[str, ModelEntry]) -> str | None:
    """The model a fresh page starts with: the best tested, else the newest."""
    if not entries:
        return None
    return max(entries.values(),
               key=lambda e: (e.test_accuracy is not None, e.test_accuracy or 0.0, e.stamp)).id
