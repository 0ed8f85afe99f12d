"""Optimizers: they move the flat parameter vector θ against the gradient g = ∂Ē/∂θ.

Each optimizer owns its state (SGD's velocity v; Adam's moments m, v and step count t) and can
export it as arrays for a model file, so that a resumed run continues bit-identically.

Plain SGD with batch size 1 is the assignment's equation (2): ``W ← W + η δ yᵀ = W − η g``.
"""

from __future__ import annotations

import numpy as np

from digitlab.errors import ConfigError


class Optimizer:
    """Base class. ``step(params, grads, lr)`` updates ``params`` in place."""

    name = ""

    def __init__(self, lr: float, weight_decay: float = 0.0):
        if not lr > 0:
            raise ConfigError(f"learning rate must be > 0, got {lr}")
        if not weight_decay >= 0:
            raise ConfigError(f"weight_decay must be >= 0, got {weight_decay}")
        self.lr = float(lr)
        self.weight_decay = float(weight_decay)

    def step(self, params: np.ndarray, grads: np.ndarray, lr: float | None = None) -> None:
        raise NotImplementedError

    def _add_weight_decay(self, params: np.ndarray, grads: np.ndarray) -> None:
        """L2 weight decay: g ← g + λ θ (the gradient of ½ λ ‖θ‖²)."""
        if self.weight_decay:
            grads += self.weight_decay * params

    def state_dict(self) -> dict[str, np.ndarray]:
        """Optimizer state as named arrays (scalars as 0-d arrays)."""
        return {}

    def load_state_dict(self, state: dict[str, np.ndarray], like: np.ndarray) -> None:
        """Restore what :meth:`state_dict` exported; ``like`` is the parameter vector."""


class SGD(Optimizer):
    """Stochastic gradient descent, optionally with (Nesterov) momentum μ.

    Without momentum: θ ← θ − η g. With momentum (PyTorch's convention): v ← μ v + g and
    θ ← θ − η v, or θ ← θ − η (g + μ v) for Nesterov.
    """

    name = "sgd"

    def __init__(self, lr=0.01, momentum=0.0, nesterov=False, weight_decay=0.0):
        super().__init__(lr, weight_decay)
        if not 0.0 <= momentum < 1.0:
            raise ConfigError(f"momentum must be in [0, 1), got {momentum}")
        if nesterov and momentum == 0:
            raise ConfigError("nesterov needs a momentum > 0")
        self.momentum = float(momentum)
        self.nesterov = bool(nesterov)
        self.velocity: np.ndarray | None = None

    def step(self, params, grads, lr=None):
        lr = self.lr if lr is None else lr
        self._add_weight_decay(params, grads)
        if self.momentum == 0.0:
            params -= lr * grads
            return
        if self.velocity is None:
            self.velocity = np.zeros_like(params)
        v = self.velocity
        v *= self.momentum
        v += grads  # v ← μ v + g
        if self.nesterov:
            grads += self.momentum * v  # g + μ v
            params -= lr * grads
        else:
            params -= lr * v

    def state_dict(self):
        return {} if self.velocity is None else {"velocity": self.velocity.copy()}

    def load_state_dict(self, state, like):
        if "velocity" in state:
            self.velocity = np.array(state["velocity"], dtype=like.dtype)


class Adam(Optimizer):
    """Adam (Kingma & Ba, 2015).

    m ← β₁ m + (1 − β₁) g,  v ← β₂ v + (1 − β₂) g²,
    θ ← θ − η m̂ / (√v̂ + ε)  with m̂ = m / (1 − β₁ᵗ), v̂ = v / (1 − β₂ᵗ).

    The update runs over the parameter vector in cache-sized chunks: each chunk goes through all
    of the formula's steps while it is still in the CPU cache, instead of sweeping the whole
    1.9-million-parameter vector from memory once per step of the formula. The arithmetic is
    the same either way.
    """

    name = "adam"
    #: elements per chunk: 6 arrays of 16 K float32 (384 KiB) stay within a core's L2 cache.
    chunk = 16384

    def __init__(self, lr=0.001, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.0):
        super().__init__(lr, weight_decay)
        for name, beta in (("beta1", beta1), ("beta2", beta2)):
            if not 0.0 <= beta < 1.0:
                raise ConfigError(f"{name} must be in [0, 1), got {beta}")
        if not eps > 0:
            raise ConfigError(f"eps must be > 0, got {eps}")
        self.beta1, self.beta2, self.eps = float(beta1), float(beta2), float(eps)
        self.m: np.ndarray | None = None
        self.v: np.ndarray | None = None
        self.t = 0
        self._scratch: np.ndarray | None = None

    def step(self, params, grads, lr=None):
        lr = self.lr if lr is None else lr
        if self.m is None:
            self.m, self.v = np.zeros_like(params), np.zeros_like(params)
        if self._scratch is None or self._scratch.dtype != params.dtype:
            self._scratch = np.empty(min(self.chunk, params.size), dtype=params.dtype)
        self.t += 1
        b1, b2 = self.beta1, self.beta2
        # θ ← θ − η m̂/(√v̂ + ε) = θ − step · m / (√v / √c₂ + ε), with c₁ = 1 − β₁ᵗ, c₂ = 1 − β₂ᵗ
        step = lr / (1.0 - b1**self.t)
        inv_sqrt_c2 = 1.0 / np.sqrt(1.0 - b2**self.t)
        for start in range(0, params.size, self.chunk):
            end = start + self.chunk
            p, g, m, v = params[start:end], grads[start:end], self.m[start:end], self.v[start:end]
            tmp = self._scratch[: p.size]
            if self.weight_decay:
                np.multiply(p, self.weight_decay, out=tmp)
                g = g + tmp  # do not modify the caller's gradient in place
            m *= b1
            np.multiply(g, 1.0 - b1, out=tmp)
            m += tmp  # m ← β₁ m + (1 − β₁) g
            v *= b2
            np.multiply(g, g, out=tmp)
            tmp *= 1.0 - b2
            v += tmp  # v ← β₂ v + (1 − β₂) g²
            np.sqrt(v, out=tmp)
            tmp *= inv_sqrt_c2
            tmp += self.eps  # √v̂ + ε
            np.divide(m, tmp, out=tmp)
            tmp *= step
            p -= tmp

    def state_dict(self):
        if self.m is None:
            return {"t": np.array(self.t)}
        return {"m": self.m.copy(), "v": self.v.copy(), "t": np.array(self.t)}

    def load_state_dict(self, state, like):
        self.t = int(state.get("t", 0))
        if "m" in state:
            self.m = np.array(state["m"], dtype=like.dtype)
            self.v = np.array(state["v"], dtype=like.dtype)


OPTIMIZERS = {"sgd": SGD, "adam": Adam}


def make_optimizer(
    name: str, lr: float, *, momentum: float = 0.0, nesterov: bool = False,
    weight_decay: float = 0.0,
) -> Optimizer:
    """An optimizer by name: ``"sgd"`` (with optional momentum / Nesterov) or ``"adam"``."""
    if name == "sgd":
        return SGD(lr, momentum=momentum, nesterov=nesterov, weight_decay=weight_decay)
    if name == "adam":
        if momentum or nesterov:
            raise ConfigError("momentum and nesterov apply to sgd only, not adam")
        return Adam(lr, weight_decay=weight_decay)
    raise ConfigError(f"unknown optimizer {name!r}; expected one of {', '.join(OPTIMIZERS)}")
