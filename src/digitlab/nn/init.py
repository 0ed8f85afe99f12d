"""Initial weights.

The assignment draws W^l from a Gaussian of variance 2/dim(y^l), where dim(y^l) is the number of
inputs of layer l (its fan-in). Glorot and He *uniform* are offered too. Draws are made in float64
and then cast, so float32 and float64 networks built with the same seed start from the same values.
"""

from __future__ import annotations

import numpy as np

from digitlab.errors import ConfigError

INITS = ("gaussian", "glorot", "he")


def init_weight(kind: str, n_out: int, n_in: int, rng: np.random.Generator, dtype) -> np.ndarray:
    """A weight matrix W of shape (n_out, n_in), so that z = W y for y of shape (n_in,)."""
    shape = (n_out, n_in)
    if kind == "gaussian":
        w = rng.standard_normal(shape) * np.sqrt(2.0 / n_in)  # variance 2 / dim(y^l)
    elif kind == "glorot":
        limit = np.sqrt(6.0 / (n_in + n_out))
        w = rng.uniform(-limit, limit, shape)
    elif kind == "he":
        limit = np.sqrt(6.0 / n_in)
        w = rng.uniform(-limit, limit, shape)
    else:
        raise ConfigError(f"unknown init {kind!r}; expected one of {', '.join(INITS)}")
    return w.astype(dtype)
