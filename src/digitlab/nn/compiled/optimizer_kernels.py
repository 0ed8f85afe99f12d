"""The optimizers' update of a piece of θ, compiled: one pass over θ, its state and the gradient.

NumPy runs Adam as about ten elementwise calls, each a pass over the piece (see
:class:`digitlab.nn.optimizers.Adam`); here each element is read once, updated and written once.
The formulas are those of :mod:`digitlab.nn.optimizers`, in the same form (Adam with rescaled
moments M, V and the step constants η′, ε′ of the current step; SGD's velocity v ← μ v + g).

The kernels release the GIL, so the threads of :func:`digitlab.nn.parallel.in_parts` run them on
different blocks of rows at once; every element is computed on its own, so the result does not
depend on the number of threads. Constants are taken in the dtype of θ, as NumPy does with Python
floats, so a float32 network is updated in float32.
"""

from __future__ import annotations

import numpy as np
from numba import njit

FASTMATH = {"reassoc", "contract", "nsz", "arcp"}  # not nnan/ninf: NaN must stay visible
_jit = njit(fastmath=FASTMATH, cache=True, nogil=True, error_model="numpy")


@_jit
def adam_update(params, grad, m_scaled, v_scaled, beta1, beta2, step_size, eps, weight_decay):
    """Adam on ``params`` (n,) with gradient ``grad`` (n,), in place:
    g ← g + λ θ;  M ← β₁ M + g;  V ← β₂ V + g²;  θ ← θ − η′ M / (√V + ε′)."""
    kind = params.dtype.type
    b1, b2, step, e, wd = kind(beta1), kind(beta2), kind(step_size), kind(eps), kind(weight_decay)
    for i in range(params.size):
        g = grad[i] + wd * params[i] if weight_decay != 0 else grad[i]
        m = b1 * m_scaled[i] + g
        v = b2 * v_scaled[i] + g * g
        m_scaled[i] = m
        v_scaled[i] = v
        params[i] -= step * m / (np.sqrt(v) + e)


@_jit
def sgd_update(params, grad, velocity, lr, momentum, nesterov, weight_decay):
    """SGD on ``params`` (n,), in place: g ← g + λ θ; without momentum θ ← θ − η g; with it
    v ← μ v + g and θ ← θ − η v (Nesterov: θ ← θ − η (g + μ v)). ``velocity`` is unused
    (may be empty) when μ = 0."""
    kind = params.dtype.type
    rate, mu, wd = kind(lr), kind(momentum), kind(weight_decay)
    for i in range(params.size):
        g = grad[i] + wd * params[i] if weight_decay != 0 else grad[i]
        if momentum == 0:
            params[i] -= rate * g
            continue
        v = mu * velocity[i] + g
        velocity[i] = v
        params[i] -= rate * (g + mu * v if nesterov else v)
