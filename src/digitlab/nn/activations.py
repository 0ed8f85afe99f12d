"""Activation functions f, each with its derivative written beside it.

Every activation maps the pre-activation ``z = W y + b`` of shape ``(B, n)`` to ``y = f(z)`` of the
same shape. :meth:`Activation.backward` turns ``dE/dy`` into ``dE/dz``; for the elementwise
activations this is ``dE/dy ⊙ f′(z)``, the factor ``f′(W^l y^l)`` of equation (1). Where the maths
allows, ``f′`` is computed from the cached forward output ``y`` rather than from ``z``
(``tanh′ = 1 − y²``, ``sigmoid′ = y (1 − y)``), as the assignment suggests.
"""

from __future__ import annotations

import numpy as np

from digitlab.errors import ConfigError


class Activation:
    """Base class: ``forward(z) -> y`` and ``derivative(z, y) -> f′(z)``, both of shape (B, n)."""

    name: str = ""
    #: the value f takes for the "off" target: -1 for tanh-like outputs, 0 otherwise.
    low: float = 0.0

    def forward(self, z: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def derivative(self, z: np.ndarray, y: np.ndarray) -> np.ndarray:
        """f′(z), elementwise, of shape (B, n); ``y`` is the cached ``f(z)``."""
        raise NotImplementedError

    def backward(self, grad_y: np.ndarray, z: np.ndarray, y: np.ndarray) -> np.ndarray:
        """dE/dz from dE/dy (vector–Jacobian product), shape (B, n)."""
        return grad_y * self.derivative(z, y)

    def above_low(self, z: np.ndarray, y: np.ndarray) -> np.ndarray:
        """y − low, how far each output is from its "off" value, of shape (B, n)."""
        return y - self.low

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


class Tanh(Activation):
    name = "tanh"
    low = -1.0

    def forward(self, z: np.ndarray) -> np.ndarray:
        return np.tanh(z)

    def derivative(self, z: np.ndarray, y: np.ndarray) -> np.ndarray:
        return 1.0 - y * y  # tanh′ = 1 − tanh², reusing the forward pass

    def above_low(self, z: np.ndarray, y: np.ndarray) -> np.ndarray:
        """1 + tanh(z) = 2σ(2z), from z: where y lies within rounding of −1 the difference
        y + 1 would keep no correct digit (float32: y = −0.99999 is only 1e-5 from −1)."""
        e = np.exp(-2.0 * np.abs(z))  # in (0, 1]: never overflows
        return np.where(z >= 0, 2.0 / (1.0 + e), 2.0 * e / (1.0 + e)).astype(y.dtype)


class Sigmoid(Activation):
    name = "sigmoid"

    def forward(self, z: np.ndarray) -> np.ndarray:
        # 1 / (1 + e^-z) written via tanh: the same function, without overflow for large |z|.
        return 0.5 * (1.0 + np.tanh(0.5 * z))

    def derivative(self, z: np.ndarray, y: np.ndarray) -> np.ndarray:
        return y * (1.0 - y)  # σ′ = σ (1 − σ)


class ReLU(Activation):
    name = "relu"

    def forward(self, z: np.ndarray) -> np.ndarray:
        return np.maximum(z, 0.0)

    def derivative(self, z: np.ndarray, y: np.ndarray) -> np.ndarray:
        return (z > 0).astype(z.dtype)  # 1 where z > 0, else 0 (0 at the kink)


class Swish(Activation):
    """swish(z) = z · σ(z); swish′(z) = σ(z) + z σ(z)(1 − σ(z)) = y + σ(z)(1 − y)."""

    name = "swish"

    def forward(self, z: np.ndarray) -> np.ndarray:
        return z * (0.5 * (1.0 + np.tanh(0.5 * z)))

    def derivative(self, z: np.ndarray, y: np.ndarray) -> np.ndarray:
        s = 0.5 * (1.0 + np.tanh(0.5 * z))
        return y + s * (1.0 - y)


class Linear(Activation):
    name = "linear"
    low = -1.0

    def forward(self, z: np.ndarray) -> np.ndarray:
        return z

    def derivative(self, z: np.ndarray, y: np.ndarray) -> np.ndarray:
        return np.ones_like(z)

    def backward(self, grad_y: np.ndarray, z: np.ndarray, y: np.ndarray) -> np.ndarray:
        return grad_y


class Softmax(Activation):
    """Softmax over the last axis: y_k = e^{z_k} / Σ_j e^{z_j}.

    Not elementwise: its Jacobian is diag(y) − y yᵀ, so ``backward`` computes
    ``y ⊙ (g − Σ_k g_k y_k)`` for each row. With the cross-entropy loss the two are fused into
    ``dE/dz = y − t`` (see :mod:`digitlab.nn.losses`).
    """

    name = "softmax"

    def forward(self, z: np.ndarray) -> np.ndarray:
        shifted = z - z.max(axis=-1, keepdims=True)  # exact same result, no overflow
        e = np.exp(shifted)
        return e / e.sum(axis=-1, keepdims=True)

    def derivative(self, z: np.ndarray, y: np.ndarray) -> np.ndarray:
        raise ConfigError("softmax has no elementwise derivative; use backward()")

    def backward(self, grad_y: np.ndarray, z: np.ndarray, y: np.ndarray) -> np.ndarray:
        return y * (grad_y - np.sum(grad_y * y, axis=-1, keepdims=True))


ACTIVATIONS: dict[str, type[Activation]] = {
    cls.name: cls for cls in (Tanh, Sigmoid, ReLU, Swish, Linear, Softmax)
}
HIDDEN_ACTIVATIONS = ("tanh", "sigmoid", "relu", "swish", "linear")


def get_activation(name: str) -> Activation:
    """The activation called ``name`` (one of :data:`ACTIVATIONS`)."""
    try:
        return ACTIVATIONS[name]()
    except KeyError:
        raise ConfigError(
            f"unknown activation {name!r}; expected one of {', '.join(ACTIVATIONS)}"
        ) from None
