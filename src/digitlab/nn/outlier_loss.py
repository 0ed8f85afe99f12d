"""Outlier exposure (Hendrycks et al., 2019): a loss that pushes the softmax towards uniform.

On an outlier x_out (an image that is no digit) the network should not pick any of the K
classes, so its loss is the mean negative log-probability over all of them:

    L_OE(z) = −(1/K) Σ_k log p_k = logsumexp(z) − (1/K) Σ_k z_k,    p = softmax(z),

since log p_k = z_k − logsumexp(z). Its gradient with respect to the logits is

    ∂L_OE/∂z_j = p_j − 1/K.

This is exactly the softmax cross-entropy E = −Σ_k t_k log p_k of
:class:`digitlab.nn.losses.CrossEntropy` with the uniform target t = u = (1/K, …, 1/K): the
cross-entropy H(u, p), not the divergence KL(u ‖ p) = H(u, p) − log K, so no constant is left
over, and its fused gradient ∂E/∂z = p − t is the one above. A training loop can therefore append
outliers to a minibatch with uniform targets and train them with the ordinary cross-entropy
machinery, on every engine; the two functions here say what that computes, and check it.
"""

from __future__ import annotations

import numpy as np


def _shifted(z: np.ndarray) -> np.ndarray:
    """z − max_k z_k per row: the same softmax and differences, and no overflow in exp."""
    z = np.asarray(z)
    return z - z.max(axis=-1, keepdims=True)


def outlier_exposure_loss(z: np.ndarray) -> np.ndarray:
    """L_OE = logsumexp(z) − mean_k z_k for logits ``z`` (B, K), per sample: shape (B,).

    Computed from z − max z, so large logits neither overflow nor lose the small terms. Its least
    value is log K, the entropy of the uniform target, reached exactly when all logits are equal
    (the uniform output); L_OE − log K = KL(u ‖ p) ≥ 0.
    """
    s = _shifted(z)
    return np.log(np.exp(s).sum(axis=-1)) - s.mean(axis=-1)


def outlier_exposure_gradient(z: np.ndarray) -> np.ndarray:
    """∂L_OE/∂z = softmax(z) − 1/K for logits ``z`` (B, K), per sample: shape (B, K).

    Each row sums to 0: moving all logits together changes neither p nor the loss.
    """
    e = np.exp(_shifted(z))
    p = e / e.sum(axis=-1, keepdims=True)
    return p - np.asarray(1.0 / z.shape[-1], dtype=p.dtype)
