"""Loss functions E(y, t) for one sample, and how targets t are encoded.

The assignment's loss is the squared error ``E = ½‖y − t‖²`` with targets +1 for the right digit
and −1 for the others; the report's final network uses softmax cross-entropy
``E = −Σ_k t_k log y_k`` with one-hot targets. Losses are reported *per sample* (the mean over a
batch), so that curves compare across batch sizes.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import DTypeLike

from digitlab.errors import ConfigError


class Loss:
    """``per_sample(y, t)`` of shape (B,) and ``output_gradient(y, t) = ∂E/∂y`` of shape (B, n)."""

    name: str = ""

    def per_sample(self, y: np.ndarray, t: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def output_gradient(self, y: np.ndarray, t: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def targets(self, labels: np.ndarray, n_classes: int, low: float,
                dtype: DTypeLike) -> np.ndarray:
        """Target vectors t of shape (B, n_classes) for integer ``labels`` of shape (B,)."""
        raise NotImplementedError


class SquaredError(Loss):
    """E = ½‖y − t‖², so ∂E/∂y = y − t (the factor −(y^L − t) of equation (1))."""

    name = "mse"

    def per_sample(self, y: np.ndarray, t: np.ndarray) -> np.ndarray:
        diff = y - t
        return 0.5 * np.einsum("bk,bk->b", diff, diff)

    def output_gradient(self, y: np.ndarray, t: np.ndarray) -> np.ndarray:
        return y - t

    def targets(self, labels: np.ndarray, n_classes: int, low: float,
                dtype: DTypeLike) -> np.ndarray:
        # +1 for the right digit, `low` for the others: -1 for tanh outputs as in the assignment,
        # 0 for outputs that cannot go below zero (sigmoid, softmax, relu).
        t = np.full((len(labels), n_classes), low, dtype=dtype)
        t[np.arange(len(labels)), labels] = 1.0
        return t


class CrossEntropy(Loss):
    """E = −Σ_k t_k log y_k for probabilities y (a softmax output) and one-hot t.

    With a softmax output the gradient with respect to the pre-activation is simply
    ``∂E/∂z = y − t``; :class:`digitlab.nn.network.MLP` uses that fused form, which stays exact
    when some ``y_k`` underflow to 0.
    """

    name = "ce"
    #: smallest probability fed to the logarithm, so that a confident mistake gives a large but
    #: finite E rather than inf.
    tiny = 1e-12

    def per_sample(self, y: np.ndarray, t: np.ndarray) -> np.ndarray:
        return -np.einsum("bk,bk->b", t, np.log(np.maximum(y, self.tiny)))

    def output_gradient(self, y: np.ndarray, t: np.ndarray) -> np.ndarray:
        return -t / np.maximum(y, self.tiny)

    def targets(self, labels: np.ndarray, n_classes: int, low: float,
                dtype: DTypeLike) -> np.ndarray:
        t = np.zeros((len(labels), n_classes), dtype=dtype)
        t[np.arange(len(labels)), labels] = 1.0
        return t


def smooth_labels(targets: np.ndarray, smoothing: float) -> np.ndarray:
    """Label smoothing for cross-entropy: t ← (1 − ε) t + ε / K for one-hot t (B, K).

    The right digit keeps 1 − ε + ε/K, every other digit gets ε/K, so the network is not pushed
    towards infinitely confident outputs. With a softmax output ∂E/∂z = y − t still holds.
    """
    if not smoothing:
        return targets
    n_classes = targets.shape[1]
    return (targets * (1.0 - smoothing) + smoothing / n_classes).astype(targets.dtype)


LOSSES: dict[str, type[Loss]] = {"mse": SquaredError, "ce": CrossEntropy}


def get_loss(name: str) -> Loss:
    """The loss called ``name``: ``"mse"`` (½‖y − t‖²) or ``"ce"`` (softmax cross-entropy)."""
    try:
        return LOSSES[name]()
    except KeyError:
        raise ConfigError(f"unknown loss {name!r}; expected one of {', '.join(LOSSES)}") from None
