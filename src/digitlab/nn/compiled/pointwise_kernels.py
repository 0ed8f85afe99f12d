"""The activations f and their slopes f′, compiled: the formulas of :mod:`digitlab.nn.activations`,
one loop per activation so that each loop is a plain one the compiler vectorises.

- :func:`activate_all` — y = f(z);
- :func:`backprop_all` — ∂E/∂z = ∂E/∂y ⊙ f′(z), the factor f′(W^l y^l) of equation (1), with f′
  taken from the cached y = f(z) where the maths allows (tanh′ = 1 − y², σ′ = y (1 − y), and
  swish′ = y + σ(z)(1 − y) with σ(z) = y / z, so that the backward pass evaluates no tanh).

NumPy runs swish as five passes over the array, two of them a float32 tanh at about 7 ns an
element; the backward pass as many again (measured: 0.3 ms a layer each way at 32 × 1024). Here
each is one pass. :func:`to_flat` gives the one-dimensional views the loops take.

The softmax is not elementwise; it stays in NumPy (the 10 outputs) or in the per-sample kernel.
"""

from __future__ import annotations

import numpy as np
from numba import njit

#: activation name -> code used inside the kernels
ACTIVATION_CODES = {"tanh": 0, "sigmoid": 1, "relu": 2, "swish": 3, "linear": 4, "softmax": 5}
TANH, SIGMOID, RELU, SWISH, LINEAR, SOFTMAX = range(6)

FASTMATH = {"reassoc", "contract", "nsz", "arcp"}  # not nnan/ninf: NaN must stay visible
_jit = njit(fastmath=FASTMATH, cache=True, nogil=True, error_model="numpy")


@_jit
def tanh_float32(x):
    """tanh for float32 results, as plain arithmetic that the compiler vectorises (libm's tanh
    is one call per element: 11 µs for the 784 hidden units of the assignment network, against
    about 1 µs for NumPy's vectorised tanh; measured).

    In float64: e^{2x} = (e^{2x/32})^32 with e^r a Taylor polynomial of degree 11 on |r| ≤ 0.57
    (relative error below 10⁻¹⁰ after the squarings), tanh = (e^{2x} − 1)/(e^{2x} + 1), and
    x − x³/3 for |x| < 10⁻³ where that difference loses digits; |2x| is capped at 18, where
    tanh is 1 in float32. A NaN stays a NaN.
    """
    y = 2.0 * x
    if y > 18.0:
        y = 18.0
    elif y < -18.0:
        y = -18.0
    r = y * (1.0 / 32.0)
    p = 1.0 + r * (1.0 + r * (1.0 / 2 + r * (1.0 / 6 + r * (1.0 / 24 + r * (
        1.0 / 120 + r * (1.0 / 720 + r * (1.0 / 5040 + r * (1.0 / 40320 + r * (
            1.0 / 362880 + r * (1.0 / 3628800 + r * (1.0 / 39916800)))))))))))
    for _ in range(5):
        p = p * p
    if abs(x) < 1e-3:
        return x - x * x * x * (1.0 / 3.0)
    return (p - 1.0) / (p + 1.0)


@_jit
def tanh(x, fast):
    """tanh(x): :func:`tanh_float32` when ``fast`` (float32 networks), else NumPy's."""
    return tanh_float32(x) if fast else np.tanh(x)


@_jit
def sigmoid_of_swish(z, y):
    """σ(z) from z and y = swish(z) = z σ(z): y / z, and ½ at z = 0."""
    return y / z if z != 0 else y * 0 + 0.5


@_jit
def slope(code, z, y):
    """f′(z) for one element, from z and the cached y = f(z): tanh′ = 1 − y², σ′ = y (1 − y),
    relu′ = [z > 0], swish′ = y + σ(z)(1 − y), linear′ = 1 (no tanh: σ(z) = y / z)."""
    if code == TANH:
        return 1.0 - y * y
    if code == SIGMOID:
        return y * (1.0 - y)
    if code == RELU:
        return 1.0 if z > 0 else 0.0
    if code == SWISH:
        return y + sigmoid_of_swish(z, y) * (1.0 - y)
    return 1.0


@_jit
def activate_all(code, z, y, fast):
    """y = f(z) elementwise, (n,) arrays; ``fast``: :func:`tanh_float32`."""
    if code == TANH:
        for i in range(z.size):
            y[i] = tanh(z[i], fast)
    elif code == SIGMOID:
        for i in range(z.size):
            y[i] = 0.5 * (1.0 + tanh(0.5 * z[i], fast))
    elif code == RELU:
        for i in range(z.size):
            y[i] = z[i] if z[i] > 0 else z[i] * 0  # z * 0 keeps a NaN a NaN
    elif code == SWISH:
        for i in range(z.size):
            y[i] = z[i] * (0.5 * (1.0 + tanh(0.5 * z[i], fast)))
    else:
        for i in range(z.size):
            y[i] = z[i]


@_jit
def backprop_all(code, grad, z, y, out):
    """out = grad ⊙ f′(z), (n,) arrays, f′ from z and y = f(z) as in :func:`slope`; ``out``
    may be ``grad`` itself (then in place)."""
    if code == TANH:
        for i in range(out.size):
            out[i] = grad[i] * (1.0 - y[i] * y[i])
    elif code == SIGMOID:
        for i in range(out.size):
            out[i] = grad[i] * (y[i] * (1.0 - y[i]))
    elif code == RELU:
        for i in range(out.size):
            out[i] = grad[i] if z[i] > 0 else grad[i] * 0
    elif code == SWISH:
        for i in range(out.size):
            out[i] = grad[i] * (y[i] + sigmoid_of_swish(z[i], y[i]) * (1.0 - y[i]))
    else:
        for i in range(out.size):
            out[i] = grad[i]


def to_flat(*arrays: np.ndarray) -> list[np.ndarray] | None:
    """One-dimensional views of arrays of one shape, dtype and memory layout (C- or
    F-contiguous), element i of each the same element; None when they differ."""
    first = arrays[0]
    if not (first.flags.c_contiguous or first.flags.f_contiguous):
        return None
    if any(a.shape != first.shape or a.strides != first.strides or a.dtype != first.dtype
           for a in arrays):
        return None
    return [a.ravel(order="K") for a in arrays]
