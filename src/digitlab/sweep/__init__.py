"""Hyperparameter studies: many seeded training runs, in parallel processes or on Ray.

Modules, one idea each:

* :mod:`~digitlab.sweep.trials` -- :class:`Trial` (a config with its seed and study labels) and
  :func:`run_trial`, which trains it and returns its result without ever raising.
* :mod:`~digitlab.sweep.studies` -- the built-in studies (epochs, lr, layers, neurons) and TOML
  grids, expanded into trials.
* :mod:`~digitlab.sweep.executors` -- a local process pool and Ray, one BLAS thread per trial.
* :mod:`~digitlab.sweep.store` -- one JSON file per finished trial, so sweeps resume.
* :mod:`~digitlab.sweep.summary` -- rows per trial, mean ± std over seeds per study point.
* :mod:`~digitlab.sweep.run` -- :func:`run_sweep`, which ties them together.

The names below are imported on first use: a worker process imports this package to run its
initializer, which must happen before NumPy loads its BLAS library.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "run_sweep": "digitlab.sweep.run",
    "plan_studies": "digitlab.sweep.run",
    "SweepResult": "digitlab.sweep.run",
    "Trial": "digitlab.sweep.trials",
    "run_trial": "digitlab.sweep.trials",
    "BUILTIN_STUDIES": "digitlab.sweep.studies",
    "load_grid": "digitlab.sweep.studies",
    "TrialStore": "digitlab.sweep.store",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(_EXPORTS[name]), name)
