"""One way in for a path that names a model: a model file, a run folder or an ensemble folder.

:mod:`digitlab.modelio` reads single model files and :mod:`digitlab.ensembles` reads ensemble
folders (its members through :mod:`digitlab.modelio`); :func:`load_any` picks between them, so
the commands and the API take either without knowing which.
"""

from __future__ import annotations

import os
from typing import Any

from digitlab.config import TrainConfig
from digitlab.ensembles import is_ensemble, load_ensemble
from digitlab.errors import ModelFileError
from digitlab.modelio import SavedModel, check_digit_shape, load_model
from digitlab.models import Model
from digitlab.nn.network import MLP


def load_any(path: str | os.PathLike) -> SavedModel:
    """The model at ``path``: an ensemble folder (its network an
    :class:`~digitlab.ensembles.Ensemble`), else a model file or a run folder's ``model.npz``.

    Every failure is a one-line :class:`ModelFileError` naming the file.
    """
    return load_ensemble(path) if is_ensemble(path) else load_model(path)


def load_digit_model(path: str | os.PathLike) -> SavedModel:
    """:func:`load_any`, refusing a network that does not read 28×28 digits into 10 classes."""
    saved = load_any(path)
    check_digit_shape(saved.path, saved.network.sizes)
    return saved


def resolve_model(
    model: Any, config: TrainConfig | None = None
) -> tuple[Model, TrainConfig | None, str | None]:
    """(network, config, model path) from whatever names a model.

    ``model`` is a model file, run folder or ensemble folder, a :class:`SavedModel`, anything
    with ``network`` and ``config`` attributes (what :func:`digitlab.train` returns) or a bare
    :class:`MLP`; ``config`` replaces the one found with it. The network is the bare one, fed
    prepared inputs (:attr:`SavedModel.model` applies the preprocessing).
    """
    if isinstance(model, (str, os.PathLike)):
        model = load_any(model)
    if isinstance(model, MLP):
        return model, config, None
    network = getattr(model, "network", None)
    if not isinstance(network, Model):
        raise ModelFileError(f"not a model: {type(model).__name__} (give a model file, a run "
                             "folder, a loaded model, a training result or a network)")
    path = getattr(model, "path", None) or getattr(model, "run_dir", None)
    return network, config or getattr(model, "config", None), str(path) if path else None
