"""Max-norm constraints on weights (Srivastava et al., 2014, used with dropout).

After every update, each unit's incoming weight vector W^l[i, :] is scaled back onto the ball
‖W^l[i, :]‖₂ ≤ c when it has left it: W^l[i, :] ← W^l[i, :] · min(1, c / ‖W^l[i, :]‖₂).
Biases are not constrained.
"""

from __future__ import annotations

import numpy as np


def apply_max_norm(weights: list[np.ndarray], max_norm: float) -> None:
    """Project the rows of each W^l (n_out, n_in), in place, onto ‖row‖₂ ≤ ``max_norm``."""
    for W in weights:
        norms = np.sqrt(np.einsum("ij,ij->i", W, W))  # (n_out,)
        too_long = norms > max_norm
        if np.any(too_long):
            W[too_long] *= (max_norm / norms[too_long])[:, np.newaxis].astype(W.dtype)
