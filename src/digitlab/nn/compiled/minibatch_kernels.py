"""A minibatch step, compiled layer by layer: the maths of :func:`digitlab.nn.fused.forward` and
:func:`digitlab.nn.fused.backward_update` (the forward pass, equation (1) and the optimizer's
step), with each layer's work for all threads in one call that never needs the GIL.

- :func:`forward_layer` — z^l = W^l y^l + b^l in the column form, (units, n_l) @ (n_l, B), and
  y^{l+1} = f(z^l), for fixed pieces of units;
- :func:`backward_layer` — for each block of ``row_block`` rows of W^l, while its rows are in
  the cache: its share of δ^l W^l (with the old rows), its gradient rows
  ∂Ē/∂W^l = −(1/B) δ^lᵀ y^l, and the optimizer's update of those rows and their biases.

The matrix products are BLAS calls (``np.dot``, which Numba hands to SciPy's BLAS), the rest one
pass each. The pieces and blocks of a layer run on the threads of Numba's parallel loop.

Why compiled: in the NumPy kernels each piece is a Python function on a helper thread. A helper
woken for a piece started it 95 µs after the call (median; 470 µs at the 90th percentile, inside
steps of the ``report`` network), and it needs the GIL between its NumPy calls. Here the threads
of the parallel loop wait for the next layer by spinning for a few milliseconds (see
:func:`digitlab.nn.compiled.load`), and the whole layer runs without the GIL.

The result does not depend on the number of threads: the pieces and blocks are fixed by the
shapes, every row is computed by one BLAS call whichever thread makes it, and the shares are
summed in block order by the caller.
"""

from __future__ import annotations

import numba
import numpy as np
from numba import njit, prange

from digitlab.nn.compiled.optimizer_kernels import adam_update, sgd_update
from digitlab.nn.compiled.pointwise_kernels import FASTMATH, SOFTMAX, activate_all, slope

_parallel_jit = njit(parallel=True, fastmath=FASTMATH, cache=True, nogil=True,
                     error_model="numpy")


@_parallel_jit
def forward_layer(W, b, has_bias, y_columns, z_columns, z_flat, out_flat, code, fast, pieces):
    """z = W y + b and f(z) in the column form, in ``pieces`` pieces of units.

    W (n, n_in); b (n,) (unused without biases); y_columns (n_in, B) C-contiguous; z_columns
    (n, B) C-contiguous, with ``z_flat`` / ``out_flat`` its (n·B,) view and that of the output
    f(z) (not written for the softmax, which needs the whole layer); ``code`` the activation
    (:data:`~digitlab.nn.compiled.pointwise_kernels.ACTIVATION_CODES`); ``fast``: the float32
    tanh.
    """
    n, batch = z_columns.shape
    size = (n + pieces - 1) // pieces
    for piece in prange(pieces):
        lo = piece * size
        hi = min(lo + size, n)
        if lo >= hi:
            continue
        np.dot(W[lo:hi], y_columns, z_columns[lo:hi])  # (units, n_in) @ (n_in, B)
        if has_bias:
            for i in range(lo, hi):
                for j in range(batch):
                    z_columns[i, j] += b[i]
        if code != SOFTMAX:
            activate_all(code, z_flat[lo * batch : hi * batch], out_flat[lo * batch : hi * batch],
                         fast)


@njit(fastmath=FASTMATH, cache=True, nogil=True, error_model="numpy")
def _update(adam, params, grad, lo, m, v, velocity, c0, c1, c2, c3, c4, nesterov):
    """The optimizer's update of params[lo : lo + grad.size] with ``grad``: Adam (``m``, ``v``
    its rescaled moments; c0…c4 = β₁, β₂, η′, ε′, λ) or SGD (``velocity``, empty without
    momentum; c0…c2 = η, μ, λ)."""
    hi = lo + grad.size
    if adam:
        adam_update(params[lo:hi], grad, m[lo:hi], v[lo:hi], c0, c1, c2, c3, c4)
    else:
        sgd_update(params[lo:hi], grad, velocity[lo:hi], c0, c1, nesterov, c2)


@_parallel_jit
def backward_layer(W, params, start, has_bias, delta_columns, scaled_columns, bias_grad,
                   y_columns, shares, blocks_t, gradients, row_block, adam, m, v, velocity,
                   c0, c1, c2, c3, c4, nesterov):
    """Equation (1)'s shares and the optimizer's step for layer l, block by block.

    W (n_out, n_in), a view of ``params`` (θ, flat) starting at ``start``, its biases at
    ``start + W.size``; delta_columns (n_out, B) = δ^lᵀ and scaled_columns = −δ^lᵀ / B, both
    C-contiguous; bias_grad (n_out,) = −(1/B) Σ_b δ^l_b (empty without biases); y_columns
    (n_in, B) = (y^l)ᵀ, C-contiguous.
    ``shares`` (blocks, B, n_in): block k's share δ^l[:, rows] W^l[rows] of δ^l W^l, taken
    before its rows change (an empty first axis: not wanted, as for the first layer).
    Per thread of the loop: ``blocks_t`` (threads, B · row_block) holds δ^l[:, rows] for the
    share, ``gradients`` (threads, row_block, n_in) the gradient rows. The optimizer and its
    state: see :func:`_update`.

    Every product has C-contiguous operands: Numba's ``np.dot`` with a transposed (F-ordered)
    first operand, (W^l[rows])ᵀ δ^l[rows], ran at twice the time of NumPy's (measured).
    """
    n_out, n_in = W.shape
    batch = delta_columns.shape[1]
    blocks = (n_out + row_block - 1) // row_block
    want_shares = shares.shape[0] > 0
    for k in prange(blocks):
        r = k * row_block
        end = min(r + row_block, n_out)
        rows = end - r
        thread = numba.get_thread_id()
        if want_shares:  # (B, rows) @ (rows, n_in), before the rows change
            block = blocks_t[thread][: batch * rows].reshape((batch, rows))
            for i in range(rows):
                for b in range(batch):
                    block[b, i] = delta_columns[r + i, b]
            np.dot(block, W[r:end], shares[k])
        gradient = gradients[thread][:rows]
        # ∂Ē/∂W^l rows r..end: (rows, B) @ (B, n_in)
        np.dot(scaled_columns[r:end], y_columns.T, gradient)
        _update(adam, params, gradient.ravel(), start + r * n_in, m, v, velocity, c0, c1, c2,
                c3, c4, nesterov)
        if has_bias:  # the biases of the same units
            _update(adam, params, bias_grad[r:end], start + W.size + r, m, v, velocity, c0, c1,
                    c2, c3, c4, nesterov)


@njit(fastmath=FASTMATH, cache=True, nogil=True, error_model="numpy")
def delta_below(code, shares, mask, z_columns, y_columns, out_columns):
    """Equation (1) for the layer below, in the column form: δ^{l−1} = ((δ^l W^l) ⊙ m^{l−1}) ⊙
    f′(z^{l−1}) with δ^l W^l the sum of ``shares`` (blocks, B, n) in block order and m^{l−1}
    the dropout ``mask`` (B, n), or no mask when it is empty; z_columns, y_columns (n, B) =
    z^{l−1} and f(z^{l−1}) (before dropout) transposed; ``out_columns`` (n, B) receives
    (δ^{l−1})ᵀ."""
    blocks, batch, n = shares.shape
    masked = mask.size > 0
    for i in range(n):
        for b in range(batch):
            total = shares[0, b, i]
            for k in range(1, blocks):
                total += shares[k, b, i]
            if masked:
                total = total * mask[b, i]
            out_columns[i, b] = total * slope(code, z_columns[i, b], y_columns[i, b])
