"""In-place BLAS updates W ← W + α δᵀ y, which NumPy cannot do without a temporary.

NumPy has no in-place rank-k update: ``W += alpha * delta.T @ y`` first writes the whole product to
a new array and then reads it back. For the assignment's per-sample training that product is as
large as W itself (784 × 784), so the update costs three sweeps over W instead of one. SciPy's
BLAS wrappers expose ``ger`` (rank-1) and ``gemm`` with β = 1, which update W in place.

W is stored C-ordered with shape (n_out, n_in); its transpose is the same memory in Fortran order,
which is what BLAS expects, so Wᵀ ← Wᵀ + α yᵀ δ is computed on ``W.T`` without a copy.

Both NumPy and SciPy carry their own BLAS thread pool; calls alternating between the two pools are
only fast when each pool runs one thread, so callers use this inside ``threadpool_limits(1)``
(as the training loop does).
"""

from __future__ import annotations

import numpy as np
from scipy.linalg import blas


def blas_add_outer(weight: np.ndarray, delta: np.ndarray, y: np.ndarray, alpha: float) -> None:
    """W ← W + α Σ_b δ_b y_bᵀ in place.

    Parameters
    ----------
    weight : (n_out, n_in) C-contiguous float32 or float64 array, updated in place
    delta : (B, n_out) array
    y : (B, n_in) array
    alpha : the scale α (η / B for SGD)
    """
    w_t = weight.T  # (n_in, n_out), Fortran-ordered view of the same memory
    prefix = "d" if weight.dtype == np.float64 else "s"
    if delta.shape[0] == 1:
        ger = getattr(blas, prefix + "ger")
        result = ger(alpha, y[0], delta[0], a=w_t, overwrite_a=True)  # Wᵀ += α y δᵀ
    else:
        gemm = getattr(blas, prefix + "gemm")
        result = gemm(alpha, y, delta, beta=1.0, c=w_t, trans_a=1, overwrite_c=True)
    if not np.shares_memory(result, weight):  # BLAS had to copy: write the result back
        weight[...] = result.T
