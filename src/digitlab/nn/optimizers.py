"""Optimizers: they move the flat parameter vector θ against the gradient g = ∂Ē/∂θ.

Each optimizer owns its state (SGD's velocity v; Adam's moments m, v and step count t) and can
export it as arrays for a model file, so that a resumed run continues bit-identically.

Plain SGD with batch size 1 is the assignment's equation (2): ``W ← W + η δ yᵀ = W − η g``.
"""

from __future__ import annotations

import math

import numpy as np

from digitlab.errors import ConfigError

#: elements per piece of an update (256 K: one block of 256 gradient rows of a 1024-wide layer).
#: Each of Adam's ten elementwise passes is one NumPy call per piece, and every call has a fixed
#: cost (in two threads also a turn at the GIL), so fewer, longer calls beat pieces small enough
#: for the L2 cache (measured: 256 K took about 4 % less time per training step of the report
#: network than 64 K; 1 M no better).
CHUNK = 262144


class Optimizer:
    """Base class: ``step(params, grads, lr)`` updates the flat parameter vector in place.

    A step is ``begin_step`` (once: learning rate, step count, state) followed by ``update``
    calls on pieces of the vector. :meth:`step` updates the whole vector (the reference engine);
    :func:`digitlab.nn.fused.backward_update` instead hands over each block of gradient rows the
    moment backpropagation has computed it.

    The constants of the update are read-only properties (``lr``, ``weight_decay`` and each
    optimizer's own), so that a compiled update (:mod:`digitlab.nn.compiled.kernels`) reads
    them by their public names; those of the current step (``step_lr``, ``step_size``,
    ``step_eps``) are set by :meth:`begin_step`.
    """

    name = ""

    def __init__(self, lr: float, weight_decay: float = 0.0) -> None:
        if not lr > 0:
            raise ConfigError(f"learning rate must be > 0, got {lr}")
        if not weight_decay >= 0:
            raise ConfigError(f"weight_decay must be >= 0, got {weight_decay}")
        self._lr = float(lr)
        self._weight_decay = float(weight_decay)

    @property
    def lr(self) -> float:
        """η, the learning rate a step takes when ``begin_step`` is given none."""
        return self._lr

    @property
    def weight_decay(self) -> float:
        """λ of the L2 weight decay (0: none)."""
        return self._weight_decay

    def step(self, params: np.ndarray, grads: np.ndarray, lr: float | None = None) -> None:
        """θ ← θ − (the optimizer's step for gradient g), for the whole vector."""
        self.begin_step(params, lr)
        self.update(params, grads, 0)

    def begin_step(self, params: np.ndarray, lr: float | None = None) -> None:
        """Start a step with learning rate ``lr`` (the optimizer's own when None)."""
        raise NotImplementedError

    def update(self, params: np.ndarray, grad: np.ndarray, lo: int) -> None:
        """Update ``params[lo : lo + grad.size]`` in place with its gradient ``grad`` (1-D);
        ``grad`` itself is left unchanged."""
        raise NotImplementedError

    def _decayed(self, params: np.ndarray, grad: np.ndarray) -> np.ndarray:
        """g + λ θ: L2 weight decay (the gradient of ½ λ ‖θ‖²), or g itself when λ = 0."""
        return grad + self._weight_decay * params if self._weight_decay else grad

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

    def __init__(self, lr: float = 0.01, momentum: float = 0.0, nesterov: bool = False,
                 weight_decay: float = 0.0) -> None:
        super().__init__(lr, weight_decay)
        if not 0.0 <= momentum < 1.0:
            raise ConfigError(f"momentum must be in [0, 1), got {momentum}")
        if nesterov and momentum == 0:
            raise ConfigError("nesterov needs a momentum > 0")
        self._momentum = float(momentum)
        self._nesterov = bool(nesterov)
        self.velocity: np.ndarray | None = None
        self._step_lr = self._lr

    @property
    def momentum(self) -> float:
        """μ (0: plain SGD)."""
        return self._momentum

    @property
    def nesterov(self) -> bool:
        """Whether the step is θ ← θ − η (g + μ v) rather than θ ← θ − η v."""
        return self._nesterov

    @property
    def step_lr(self) -> float:
        """η of the current step (set by :meth:`begin_step`), a Python float."""
        return self._step_lr

    def begin_step(self, params: np.ndarray, lr: float | None = None) -> None:
        self._step_lr = self._lr if lr is None else float(lr)  # a float: see Adam.begin_step
        if self._momentum and self.velocity is None:
            self.velocity = np.zeros_like(params)

    def update(self, params: np.ndarray, grad: np.ndarray, lo: int) -> None:
        p = params[lo : lo + grad.size]
        g = self._decayed(p, grad)
        if self._momentum == 0.0:
            p -= self._step_lr * g
            return
        assert self.velocity is not None  # begin_step made it
        v = self.velocity[lo : lo + grad.size]
        v *= self._momentum
        v += g  # v ← μ v + g
        p -= self._step_lr * (g + self._momentum * v if self._nesterov else v)

    def state_dict(self) -> dict[str, np.ndarray]:
        return {} if self.velocity is None else {"velocity": self.velocity.copy()}

    def load_state_dict(self, state: dict[str, np.ndarray], like: np.ndarray) -> None:
        if "velocity" in state:
            self.velocity = np.array(state["velocity"], dtype=like.dtype)


class Adam(Optimizer):
    """Adam (Kingma & Ba, 2015).

    m ← β₁ m + (1 − β₁) g,  v ← β₂ v + (1 − β₂) g²,
    θ ← θ − η m̂ / (√v̂ + ε)  with m̂ = m / (1 − β₁ᵗ), v̂ = v / (1 − β₂ᵗ).

    Two rewrites make it fast on 1.9 million parameters; the maths is unchanged:

    1. The moments are stored rescaled, M = m / (1 − β₁) and V = v / (1 − β₂), so each update is
       one multiply and one add (M ← β₁ M + g, V ← β₂ V + g²), and the constants fold into
       θ ← θ − η′ M / (√V + ε′) with η′ = η (1 − β₁) / ((1 − β₁ᵗ) k), ε′ = ε / k and
       k = √((1 − β₂) / (1 − β₂ᵗ)).
    2. The vector is processed in pieces of :data:`CHUNK` elements: each piece goes through all
       ten elementwise operations while it is still in the caches, instead of ten sweeps of the
       whole vector through memory.
    """

    name = "adam"

    def __init__(self, lr: float = 0.001, beta1: float = 0.9, beta2: float = 0.999,
                 eps: float = 1e-8, weight_decay: float = 0.0) -> None:
        super().__init__(lr, weight_decay)
        for name, beta in (("beta1", beta1), ("beta2", beta2)):
            if not 0.0 <= beta < 1.0:
                raise ConfigError(f"{name} must be in [0, 1), got {beta}")
        if not eps > 0:
            raise ConfigError(f"eps must be > 0, got {eps}")
        self._beta1, self._beta2, self._eps = float(beta1), float(beta2), float(eps)
        self.m_scaled: np.ndarray | None = None  # M = m / (1 − β₁)
        self.v_scaled: np.ndarray | None = None  # V = v / (1 − β₂)
        self.t = 0
        self._step_size = self._step_eps = 0.0  # η′ and ε′ of the current step

    @property
    def beta1(self) -> float:
        """β₁, the decay of the first moment."""
        return self._beta1

    @property
    def beta2(self) -> float:
        """β₂, the decay of the second moment."""
        return self._beta2

    @property
    def eps(self) -> float:
        """ε of the textbook formula."""
        return self._eps

    @property
    def step_size(self) -> float:
        """η′ = η (1 − β₁) / ((1 − β₁ᵗ) k) of the current step (set by :meth:`begin_step`)."""
        return self._step_size

    @property
    def step_eps(self) -> float:
        """ε′ = ε / k of the current step (set by :meth:`begin_step`)."""
        return self._step_eps

    @property
    def m(self) -> np.ndarray | None:
        """The first moment m of the textbook formula."""
        return None if self.m_scaled is None else self.m_scaled * (1.0 - self.beta1)

    @property
    def v(self) -> np.ndarray | None:
        """The second moment v of the textbook formula."""
        return None if self.v_scaled is None else self.v_scaled * (1.0 - self.beta2)

    def begin_step(self, params: np.ndarray, lr: float | None = None) -> None:
        lr = self.lr if lr is None else lr
        if self.m_scaled is None:
            self.m_scaled, self.v_scaled = np.zeros_like(params), np.zeros_like(params)
        self.t += 1
        k = math.sqrt((1.0 - self.beta2) / (1.0 - self.beta2**self.t))
        # Python floats, not NumPy float64 scalars: a float64 scalar would make NumPy compute
        # each float32 update in float64 and cast back, about ten times slower
        self._step_size = float(lr) * (1.0 - self.beta1) / ((1.0 - self.beta1**self.t) * k)
        self._step_eps = self._eps / k

    def update(self, params: np.ndarray, grad: np.ndarray, lo: int) -> None:
        b1, b2, step, eps = self._beta1, self._beta2, self._step_size, self._step_eps
        assert self.m_scaled is not None and self.v_scaled is not None  # begin_step made them
        tmp = np.empty(min(CHUNK, grad.size), dtype=params.dtype)
        for start in range(0, grad.size, CHUNK):
            end = min(start + CHUNK, grad.size)
            p = params[lo + start : lo + end]
            m, v = self.m_scaled[lo + start : lo + end], self.v_scaled[lo + start : lo + end]
            g, t = self._decayed(p, grad[start:end]), tmp[: end - start]
            m *= b1
            m += g  # M ← β₁ M + g
            np.multiply(g, g, out=t)
            v *= b2
            v += t  # V ← β₂ V + g²
            np.sqrt(v, out=t)
            t += eps
            np.divide(m, t, out=t)
            t *= step
            p -= t  # θ ← θ − η′ M / (√V + ε′)

    def state_dict(self) -> dict[str, np.ndarray]:
        if self.m_scaled is None or self.v_scaled is None:
            return {"t": np.array(self.t)}
        return {"m_scaled": self.m_scaled.copy(), "v_scaled": self.v_scaled.copy(),
                "t": np.array(self.t)}

    def load_state_dict(self, state: dict[str, np.ndarray], like: np.ndarray) -> None:
        self.t = int(state.get("t", 0))
        if "m_scaled" in state:
            self.m_scaled = np.array(state["m_scaled"], dtype=like.dtype)
            self.v_scaled = np.array(state["v_scaled"], dtype=like.dtype)


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
