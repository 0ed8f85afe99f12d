"""Hyperparameter studies: many seeded training runs, in parallel processes or on Ray.

A *study* varies one parameter (the learning rate, the number of layers...) over a few values
for a few series; running a set of studies is what the command ``digitlab sweep`` does.

Modules, one idea each:

* :mod:`~digitlab.studies.trials` -- :class:`Trial` (a config with its seed and study labels) and
  :func:`run_trial`, which trains it and returns its result without ever raising.
* :mod:`~digitlab.studies.definitions` -- the built-in studies (epochs, lr, layers, neurons) and
  TOML grids, expanded into trials.
* :mod:`~digitlab.studies.executors` -- a local process pool and Ray, one BLAS thread per trial.
* :mod:`~digitlab.studies.store` -- one JSON file per finished trial, so sweeps resume.
* :mod:`~digitlab.studies.summary` -- rows per trial, mean ± std over seeds per study point.
* :mod:`~digitlab.studies.results` -- :class:`StudiesSummary` and :class:`StudySummary`, the
  typed form of the studies' summaries that the report reads.
* :mod:`~digitlab.studies.runner` -- :func:`run_studies`, which ties them together.

The names below are imported on first use: a worker process imports this package to run its
initializer, which must happen before NumPy loads its BLAS library.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "run_studies": "digitlab.studies.runner",
    "plan_studies": "digitlab.studies.runner",
    "StudiesResult": "digitlab.studies.runner",
    "StudiesSummary": "digitlab.studies.results",
    "Trial": "digitlab.studies.trials",
    "run_trial": "digitlab.studies.trials",
    "BUILTIN_STUDIES": "digitlab.studies.definitions",
    "load_grid": "digitlab.studies.definitions",
    "TrialStore": "digitlab.studies.store",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(_EXPORTS[name]), name)
