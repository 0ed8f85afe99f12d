"""Per-sample SGD, equations (1)–(2), compiled: any depth, every activation and loss digitlab has.

The network is described as plain arrays so that one compiled function serves every
architecture: the flat parameter vector θ (as :class:`digitlab.nn.network.MLP` keeps it),
``sizes`` (n_0 … n_L), ``offsets`` (where W^l starts in θ; b^l follows W^l when there are
biases) and one activation code per layer (:data:`ACTIVATION_CODES`).

Plain per-sample SGD reads each W^l three times per sample: the product z^l = W^l y^l of the
forward pass, the product δ^l W^l of equation (1) and the update (2) W^l ← W^l + η δ^l (y^l)ᵀ,
each a matrix-vector pass over memory. :func:`sgd_block` needs far less:

- The first layer, W⁰ — the largest, 784 columns — works on a block of K samples at once,
  since its inputs, the images, are known in advance. Sample k of the block needs
  W⁰_k = W⁰ + Σ_{p<k} η_p δ⁰_p (y⁰_p)ᵀ (the updates of the samples before it), and::

      W⁰_k y⁰_k = W⁰ y⁰_k + Σ_{p<k} η_p δ⁰_p (y⁰_p · y⁰_k)

  so the products W⁰ y⁰_k of the whole block are one matrix product, taken before the block,
  and the sums over p are short (K vectors of n_1). After the block the K updates (2) are one
  more matrix product, W⁰ ← W⁰ + Σ_k η_k δ⁰_k (y⁰_k)ᵀ. Both products run in BLAS at matrix-
  matrix speed; W⁰ needs no δ⁰ W⁰.
- Each later layer (l ≥ 1) delays its update (2) until the next sample's forward pass reaches
  W^l, then updates each row and at once multiplies it with the new input, so W^l is read and
  written once, and read once more for δ^l W^l.

The arithmetic is that of equations (1)–(2); only the order of the sums, and so the rounding,
differs from the NumPy paths. Before control returns to Python every update is applied, so the
weights are always those after every sample processed.

Threads. The first layer's products are split into a fixed number of blocks of rows (the same
for any thread count); in a wide later layer the rows of the forward pass are split over the
threads, and δ^l W^l by columns (each column's sum runs over the rows in order). No sum is ever
split between threads, so the result is the same, bit for bit, for any number of threads.
Small layers (the 10 outputs) run on the calling thread.

Floating point. ``fastmath`` is limited to reassociation and contraction (the dot products are
vectorised), never "no NaNs / no infinities", so a NaN loss is still seen and stops training.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

from digitlab.nn.compiled.pointwise_kernels import (
    ACTIVATION_CODES,  # noqa: F401 - the codes belong with the kernels that take them
    FASTMATH,
    SOFTMAX,
    activate_all,
    backprop_all,
    slope,
)

#: loss name -> code
LOSS_CODES = {"mse": 0, "ce": 1}
MSE, CE = 0, 1
#: a pass over a weight matrix with fewer elements than this runs on the calling thread (the
#: assignment's 10 × 784 output layer: splitting it costs more than it saves)
PARALLEL_WORK = 65536

_jit = njit(fastmath=FASTMATH, cache=True, error_model="numpy")
_jit_parallel = njit(fastmath=FASTMATH, cache=True, parallel=True, error_model="numpy")


# ------------------------------------------------------------------ one layer, one sample
@_jit
def _rows_forward(W, b, has_bias, eta, delta_prev, y_prev, y, z, y_out, code, fast, lo, hi):
    """z_i = W_i · y + b_i and y_out,i = f(z_i) for rows lo..hi (a softmax is left to the
    caller), after W_i ← W_i + η δ_prev,i y_prevᵀ when η ≠ 0 (the delayed update (2) of the
    previous sample, applied to the row on its way)."""
    zero = W.dtype.type(0)
    for i in range(lo, hi):
        row = W[i]
        acc = zero
        if eta != 0:
            a = eta * delta_prev[i]
            for j in range(row.size):
                w = row[j] + a * y_prev[j]
                row[j] = w
                acc += w * y[j]
            if has_bias:
                b[i] += a
        else:
            for j in range(row.size):
                acc += row[j] * y[j]
        z[i] = acc + b[i] if has_bias else acc
    if code != SOFTMAX:
        activate_all(code, z[lo:hi], y_out[lo:hi], fast)


@_jit
def _columns_backward(W, delta, z_below, y, code_below, delta_below, lo, hi):
    """δ_below,j = (Σ_i δ_i W_ij) f′(z_below,j) for columns lo..hi, the rows summed in order."""
    out = delta_below[lo:hi]  # (slices: loops from 0 vectorise, loops from lo did not)
    out[:] = 0
    for i in range(W.shape[0]):
        d = delta[i]
        row = W[i, lo:hi]
        for j in range(out.size):
            out[j] += d * row[j]
    backprop_all(code_below, out, z_below[lo:hi], y[lo:hi], out)  # out ⊙ f′, in place


@_jit
def _rows_update(W, b, has_bias, eta, delta, y, lo, hi):
    """Equation (2) alone for rows lo..hi, W_i ← W_i + η δ_i yᵀ (and b_i ← b_i + η δ_i)."""
    for i in range(lo, hi):
        a = eta * delta[i]
        row = W[i]
        for j in range(row.size):
            row[j] += a * y[j]
        if has_bias:
            b[i] += a


@_jit
def _parts(n, work, threads, align):
    """How to split n rows or columns of a matrix of ``work`` elements: (parts, size), size a
    multiple of ``align``; one part when the matrix is small."""
    if work < PARALLEL_WORK or threads < 2 or n < 2 * align:
        return 1, n
    size = (n + threads - 1) // threads
    size = (size + align - 1) // align * align
    return (n + size - 1) // size, size


# ------------------------------------------------------------------ output layer
@_jit
def output_delta(code, loss_code, z, y, t, delta):
    """δ^{L−1} = −∂E/∂z^{L−1}: t − y for softmax with cross-entropy, else −(y − t) ⊙ f′(z)
    (for a softmax output with ½‖y − t‖²: −y ⊙ (g − Σ_k g_k y_k), g = y − t)."""
    n = y.size
    if loss_code == CE:
        for k in range(n):
            delta[k] = t[k] - y[k]
    elif code == SOFTMAX:
        dot = 0.0
        for k in range(n):
            dot += (y[k] - t[k]) * y[k]
        for k in range(n):
            delta[k] = -y[k] * ((y[k] - t[k]) - dot)
    else:
        for k in range(n):
            delta[k] = -(y[k] - t[k]) * slope(code, z[k], y[k])


@_jit
def softmax(z, y):
    top = z[0]
    for k in range(1, z.size):
        top = max(top, z[k])
    total = 0.0
    for k in range(z.size):
        y[k] = np.exp(z[k] - top)
        total += y[k]
    for k in range(z.size):
        y[k] /= total


@_jit
def sample_loss(loss_code, y, t):
    """E for one sample: ½‖y − t‖² or −Σ t_k log max(y_k, 10⁻¹²)."""
    total = 0.0
    for k in range(y.size):
        if loss_code == CE:
            total -= t[k] * math.log(max(y[k], 1e-12))
        else:
            total += 0.5 * (y[k] - t[k]) ** 2
    return total


@_jit
def argmax(y):
    best = 0
    for k in range(1, y.size):
        if y[k] > y[best]:
            best = k
    return best


# ------------------------------------------------------------------ the per-sample loop
@_jit
def _layer_views(params, sizes, offsets, has_bias, l):
    n_in, n_out, start = sizes[l], sizes[l + 1], offsets[l]
    W = params[start : start + n_out * n_in].reshape((n_out, n_in))
    if has_bias:
        b = params[start + n_out * n_in : start + n_out * n_in + n_out]
    else:
        b = params[start : start]
    return W, b


@_jit
def _starts(sizes):
    """Where y^l starts in a row of ``ys`` (L+2 entries) and where z^l, δ^l start in ``zs``,
    ``deltas`` (L+1 entries)."""
    n_layers = sizes.size - 1
    y_start = np.zeros(n_layers + 2, np.int64)
    z_start = np.zeros(n_layers + 1, np.int64)
    for l in range(n_layers + 1):
        y_start[l + 1] = y_start[l] + sizes[l]
    for l in range(n_layers):
        z_start[l + 1] = z_start[l] + sizes[l + 1]
    return y_start, z_start


@_jit
def _first_layer(first_products, gram, first_steps, b, has_bias, k, z):
    """z⁰ of the block's sample k from the products taken at the start of the block:

        z⁰_k = W⁰_start y⁰_k + b⁰_start + Σ_{p<k} η_p δ⁰_p (y⁰_p · y⁰_k + [bias])

    which is W⁰ y⁰_k + b⁰ with W⁰, b⁰ after the updates (2) of samples 0 … k−1 of the block.
    ``first_products`` (n_1, K), ``gram`` (K, K), ``first_steps`` (K, n_1) holds η_p δ⁰_p."""
    n = z.size
    for i in range(n):
        z[i] = first_products[i, k] + b[i] if has_bias else first_products[i, k]
    one = z.dtype.type(1)  # (a Python 1 would turn float32 sums into float64 ones)
    for p in range(k):
        c = gram[p, k] + one if has_bias else gram[p, k]
        step = first_steps[p]
        for i in range(n):
            z[i] += c * step[i]


@_jit_parallel
def sgd_block(params, sizes, offsets, codes, has_bias, loss_code, targets, order, rates,
              first_products, gram, first_steps, losses, predicted, ys, zs, deltas, threads):
    """Per-sample SGD over one block of K samples, ``targets[order]``: for each sample the
    forward pass, E, equation (1) and equation (2) with rate ``rates[k]``.

    The first layer. Its input y⁰ (the image) is known for the whole block in advance, so the
    caller takes the block's products with W⁰ at once, as one matrix product (W⁰ is read once
    per block instead of once per sample), and the products y⁰_p · y⁰_k of the block's images;
    sample k's z⁰ then adds the updates of the samples before it in the block
    (:func:`_first_layer`). W⁰ and b⁰ themselves are left as they were: the kernel writes
    η_k δ⁰_k of each sample to ``first_steps``, and the caller applies the block's updates (2)
    to W⁰ as one more matrix product, W⁰ ← W⁰ + Σ_k η_k δ⁰_k (y⁰_k)ᵀ.

    The other layers (l ≥ 1). Their inputs depend on the sample before, so they are updated
    sample by sample, each update (2) delayed until the next sample's forward pass reaches W^l,
    which then updates each row i and at once multiplies it with the new input::

        W^l_i ← W^l_i + η_k δ^l_{k,i} y^l_k      (equation (2) for sample k)
        z^l_{k+1,i} = W^l_i · y^l_{k+1} + b^l_i   (forward pass of sample k+1, with the new row)

    so W^l is read and written once and read once more for δ^l W^l of equation (1). Before
    the kernel returns, the last delayed update is applied.

    The arithmetic is that of equations (1)–(2); only the order of the sums, and so the
    rounding, differs from the step-by-step NumPy paths.

    Parameters
    ----------
    params : (P,) the flat parameter vector θ (float32 or float64), updated in place (all
        layers but the first; see above)
    sizes, offsets, codes : (L+1,), (L,), (L,) int64: widths, where W^l starts, activations
    targets : (N, n_L) of the dtype of θ; order : (K,) int64, the block's samples
    rates : (K,) float64, η of each sample
    first_products : (n_1, K) W⁰ (y⁰_k)ᵀ at the start of the block (without b⁰)
    gram : (K, K) y⁰_p · y⁰_k
    first_steps : (K, n_1) output: η_k δ⁰_k
    losses, predicted : (K,) float64 and int64 outputs: E and the index of the largest output
    ys : (2, Σ n_l), zs, deltas : (Σ_{l≥1} n_l,) scratch
    threads : how many parts to split the rows (columns) of a wide layer l ≥ 1 into; the
        result does not depend on it (no sum is split between threads)

    Returns the number of samples done: K, or fewer when a sample's E was NaN or infinite —
    that sample then has no update, and θ holds the updates of the samples before it.
    """
    n_layers = sizes.size - 1
    fast = params.itemsize == 4  # float32: the vectorised tanh
    y_start, z_start = _starts(sizes)
    eta = params.dtype.type(0)  # the rate of the delayed update; 0 before the first sample
    done = 0
    b0 = _layer_views(params, sizes, offsets, has_bias, 0)[1]  # W⁰ itself: the caller's
    for k in range(order.size):
        current, previous = ys[k % 2], ys[(k + 1) % 2]
        z = zs[z_start[0] : z_start[1]]
        _first_layer(first_products, gram, first_steps, b0, has_bias, k, z)
        if codes[0] != SOFTMAX:
            activate_all(codes[0], z, current[y_start[1] : y_start[2]], fast)
        for l in range(1, n_layers):  # forward, with the previous sample's update (2) folded in
            W, b = _layer_views(params, sizes, offsets, has_bias, l)
            y_in = current[y_start[l] : y_start[l + 1]]
            y_prev = previous[y_start[l] : y_start[l + 1]]
            z = zs[z_start[l] : z_start[l + 1]]
            delta_prev = deltas[z_start[l] : z_start[l + 1]]
            y_out = current[y_start[l + 1] : y_start[l + 2]]
            parts, size = _parts(sizes[l + 1], W.size, threads, 1)
            if parts == 1:  # (a parallel region costs microseconds even for one part)
                _rows_forward(W, b, has_bias, eta, delta_prev, y_prev, y_in, z, y_out, codes[l],
                              fast, 0, sizes[l + 1])
            else:
                for part in prange(parts):  # rows split over the threads
                    _rows_forward(W, b, has_bias, eta, delta_prev, y_prev, y_in, z, y_out,
                                  codes[l], fast, part * size,
                                  min(sizes[l + 1], (part + 1) * size))
        last = n_layers - 1
        z = zs[z_start[last] : z_start[last + 1]]
        y = current[y_start[last + 1] : y_start[last + 2]]
        if codes[last] == SOFTMAX:
            softmax(z, y)
        t = targets[order[k]]
        losses[k] = sample_loss(loss_code, y, t)
        predicted[k] = argmax(y)
        if not math.isfinite(losses[k]):
            return done  # the forward pass has applied the delayed update of sample k − 1
        delta = deltas[z_start[last] : z_start[last + 1]]
        output_delta(codes[last], loss_code, z, y, t, delta)
        for l in range(n_layers - 1, 0, -1):  # equation (1), with W^l before this sample's update
            W, b = _layer_views(params, sizes, offsets, has_bias, l)
            delta = deltas[z_start[l] : z_start[l + 1]]
            z_below = zs[z_start[l - 1] : z_start[l]]
            y_l = current[y_start[l] : y_start[l + 1]]
            delta_below = deltas[z_start[l - 1] : z_start[l]]
            parts, size = _parts(sizes[l], W.size, threads, 16)
            if parts == 1:
                _columns_backward(W, delta, z_below, y_l, codes[l - 1], delta_below, 0, sizes[l])
            else:
                for part in prange(parts):  # columns split over the threads
                    _columns_backward(W, delta, z_below, y_l, codes[l - 1], delta_below,
                                      part * size, min(sizes[l], (part + 1) * size))
        eta = params.dtype.type(rates[k])
        step = first_steps[k]
        delta = deltas[z_start[0] : z_start[1]]
        for i in range(step.size):
            step[i] = eta * delta[i]
        done = k + 1
    if done > 0:  # the last sample's update (2) of the layers l ≥ 1
        current = ys[(done - 1) % 2]
        for l in range(1, n_layers):
            W, b = _layer_views(params, sizes, offsets, has_bias, l)
            delta = deltas[z_start[l] : z_start[l + 1]]
            y_l = current[y_start[l] : y_start[l + 1]]
            parts, size = _parts(sizes[l + 1], W.size, threads, 1)
            if parts == 1:
                _rows_update(W, b, has_bias, eta, delta, y_l, 0, sizes[l + 1])
            else:
                for part in prange(parts):
                    _rows_update(W, b, has_bias, eta, delta, y_l, part * size,
                                 min(sizes[l + 1], (part + 1) * size))
    return done
