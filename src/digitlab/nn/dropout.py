"""Inverted dropout on the hidden layers (Srivastava et al., 2014).

In training, each hidden output y^{l+1}_i = f(z^l_i) is kept with probability 1 − p_l and then
divided by 1 − p_l, or set to 0: y^{l+1} ← y^{l+1} ⊙ m^l with m^l_i ∈ {0, 1/(1 − p_l)}. The
expected output is unchanged, so at evaluation the network is used as it is (no masks, no
scaling). Backpropagation multiplies by the same mask: equation (1) becomes
δ^{l−1} = ((δ^l W^l) ⊙ m^{l−1}) ⊙ f′(z^{l−1}).

A mask list has one entry per layer: (B, n_{l+1}) arrays for the hidden layers with a rate > 0,
None elsewhere (always None for the output layer).
"""

from __future__ import annotations

import numpy as np


def draw_masks(
    rates: list[float], sizes: list[int], batch: int, rng: np.random.Generator, dtype
) -> list[np.ndarray | None] | None:
    """Scaled masks m^l (B, n_{l+1}) for one step, one per layer; None when all rates are 0.

    ``rates`` holds one rate per hidden layer (``len(sizes) − 2`` of them).
    """
    if not any(rates):
        return None
    masks: list[np.ndarray | None] = []
    for rate, width in zip(rates, sizes[1:-1], strict=True):
        if rate <= 0:
            masks.append(None)
            continue
        keep = rng.random((batch, width), dtype=np.float32) >= rate
        masks.append(keep.astype(dtype) * dtype.type(1.0 / (1.0 - rate)))
    masks.append(None)  # the output layer is never dropped
    return masks
