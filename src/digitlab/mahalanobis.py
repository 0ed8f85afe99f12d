"""The Mahalanobis score: how far a hidden layer's activations lie from every digit's.

Lee et al. (2018) tell inputs unlike the training data by what a network's hidden layer does
with them. The activations y^l (N, n_l) of a hidden layer l on the training digits are modelled as
one Gaussian per class with a covariance Σ shared by all classes,

    μ_k = mean of y^l over the digits of class k,
    Σ   = (1/N) Σ_i (y_i − μ_{c_i})(y_i − μ_{c_i})ᵀ + ρI,

(ρ a small ridge that keeps Σ invertible), and an input scores

    M(x) = −min_k (y^l(x) − μ_k)ᵀ Σ⁻¹ (y^l(x) − μ_k),

high (near 0) where its activations lie close to those of some class. :func:`fit_class_gaussians`
fits μ and Σ⁻¹; :meth:`ClassGaussians.score` computes M.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

from digitlab.errors import DataError

#: ρ of the covariance, relative to the mean variance of the activations
RIDGE = 1e-3


@dataclass(frozen=True, eq=False)
class ClassGaussians:
    """One Gaussian per class over a layer's activations, with a shared covariance.

    Attributes
    ----------
    means : ndarray (K, d)
        μ_k, the mean activation of each class.
    precision : ndarray (d, d)
        Σ⁻¹, the inverse of the shared (ridged) covariance.
    """

    means: np.ndarray
    precision: np.ndarray

    def __eq__(self, other: object) -> bool:
        """Equal means and precision, value for value."""
        return (isinstance(other, ClassGaussians) and np.array_equal(self.means, other.means)
                and np.array_equal(self.precision, other.precision))

    __hash__ = None  # type: ignore[assignment]  # mutable arrays inside

    def distances(self, features: np.ndarray) -> np.ndarray:
        """(y − μ_k)ᵀ Σ⁻¹ (y − μ_k) for every row y of ``features`` (N, d) and class k: (N, K).

        Expanded as yᵀΣ⁻¹y − 2 yᵀΣ⁻¹μ_k + μ_kᵀΣ⁻¹μ_k, three matrix products instead of K."""
        y = np.asarray(features, dtype=np.float64)
        if y.ndim != 2 or y.shape[1] != self.means.shape[1]:
            raise DataError(f"features must have shape (N, {self.means.shape[1]}), got "
                            f"{y.shape}")
        py = y @ self.precision  # (N, d)
        d = (np.einsum("ij,ij->i", py, y)[:, None] - 2.0 * py @ self.means.T
             + self._mean_terms[None, :])
        return np.maximum(d, 0.0)  # rounding can leave −1e-12 for y = μ_k

    @functools.cached_property
    def _mean_terms(self) -> np.ndarray:
        """μ_kᵀ Σ⁻¹ μ_k (K,): the same for every input, so computed once (K·d² products)."""
        return np.einsum("ij,ij->i", self.means @ self.precision, self.means)

    def score(self, features: np.ndarray) -> np.ndarray:
        """M = −min_k (y − μ_k)ᵀ Σ⁻¹ (y − μ_k) per row of ``features`` (N, d): (N,), ≤ 0."""
        return -self.distances(features).min(axis=1)


def fit_class_gaussians(features: np.ndarray, labels: np.ndarray, n_classes: int | None = None,
                        ridge: float = RIDGE) -> ClassGaussians:
    """μ_k and Σ⁻¹ (module docstring) from activations ``features`` (N, d) of labelled digits
    ``labels`` (N,) in 0..K−1; ρ = ``ridge`` × the mean diagonal of Σ. Every class needs at
    least one sample."""
    y = np.asarray(features, dtype=np.float64)
    labels = np.asarray(labels)
    if y.ndim != 2 or labels.shape != (len(y),):
        raise DataError(f"features (N, d) and labels (N,) must agree, got {y.shape} and "
                        f"{labels.shape}")
    k = int(labels.max()) + 1 if n_classes is None else int(n_classes)
    counts = np.bincount(labels, minlength=k)
    if np.any(counts == 0):
        raise DataError(f"every class needs a sample; none of {np.flatnonzero(counts == 0)}")
    means = np.zeros((k, y.shape[1]))
    np.add.at(means, labels, y)
    means /= counts[:, None]
    centred = y - means[labels]
    covariance = centred.T @ centred / len(y)
    covariance += ridge * max(float(np.trace(covariance)) / y.shape[1], 1e-12) \
        * np.eye(y.shape[1])
    return ClassGaussians(means=means, precision=np.linalg.inv(covariance))
