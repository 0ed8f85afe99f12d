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

Relative score
--------------
Much of M measures how unusual y^l is for *any* input — a thick or a faint stroke moves every
class distance alike — rather than how unlike the digits it is. Ren et al. (2021, "A simple fix
to Mahalanobis distance for improving near-OOD detection") subtract the distance to one
*background* Gaussian fitted on all the digits, whatever their class,

    μ_0 = mean of y^l over all digits,   Σ_0 = (1/N) Σ_i (y_i − μ_0)(y_i − μ_0)ᵀ + ρ_0 I,

    M_rel(x) = −[min_k (y − μ_k)ᵀ Σ⁻¹ (y − μ_k) − (y − μ_0)ᵀ Σ_0⁻¹ (y − μ_0)],   y = y^l(x),

which keeps what sets an input apart from the digit classes and not from the digits' common
spread; M_rel may be positive. ``fit_class_gaussians(..., relative=True)`` also fits μ_0 and
Σ_0⁻¹ (ρ_0 taken alike, relative to Σ_0's mean variance), and :meth:`ClassGaussians.score` is
then M_rel.
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
    #: μ_0 (d,) of the background Gaussian (module docstring); None: the plain score M
    background_mean: np.ndarray | None = None
    #: Σ_0⁻¹ (d, d) of the background Gaussian; set exactly when ``background_mean`` is
    background_precision: np.ndarray | None = None

    def __post_init__(self) -> None:
        if (self.background_mean is None) != (self.background_precision is None):
            raise DataError("a background Gaussian needs both its mean and its precision")

    @property
    def relative(self) -> bool:
        """Whether :meth:`score` is the relative score M_rel."""
        return self.background_mean is not None

    def __eq__(self, other: object) -> bool:
        """Equal means, precision and background, value for value."""
        def same(a: np.ndarray | None, b: np.ndarray | None) -> bool:
            return (a is None) == (b is None) and (a is None or np.array_equal(a, b))

        return (isinstance(other, ClassGaussians) and np.array_equal(self.means, other.means)
                and np.array_equal(self.precision, other.precision)
                and same(self.background_mean, other.background_mean)
                and same(self.background_precision, other.background_precision))

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

    def background_distances(self, features: np.ndarray) -> np.ndarray:
        """(y − μ_0)ᵀ Σ_0⁻¹ (y − μ_0) (N,) for every row y of ``features`` (N, d)."""
        if not self.relative:
            raise DataError("these class Gaussians have no background Gaussian")
        centred = np.asarray(features, dtype=np.float64) - self.background_mean
        return np.maximum(np.einsum("ij,ij->i", centred @ self.background_precision, centred),
                          0.0)

    def score(self, features: np.ndarray) -> np.ndarray:
        """Per row of ``features`` (N, d): M = −min_k (y − μ_k)ᵀ Σ⁻¹ (y − μ_k) (≤ 0), or, with
        a background Gaussian, M_rel = M + (y − μ_0)ᵀ Σ_0⁻¹ (y − μ_0) (module docstring): (N,)."""
        score = -self.distances(features).min(axis=1)
        return score + self.background_distances(features) if self.relative else score


def fit_class_gaussians(features: np.ndarray, labels: np.ndarray, n_classes: int | None = None,
                        ridge: float = RIDGE, relative: bool = False) -> ClassGaussians:
    """μ_k and Σ⁻¹ (module docstring) from activations ``features`` (N, d) of labelled digits
    ``labels`` (N,) in 0..K−1; ρ = ``ridge`` × the mean diagonal of Σ. Every class needs at
    least one sample. With ``relative``, also the background Gaussian's μ_0 and Σ_0⁻¹, so that
    the score is M_rel."""
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
    precision = _ridged_precision(y - means[labels], ridge)
    if not relative:
        return ClassGaussians(means=means, precision=precision)
    background_mean = y.mean(axis=0)
    return ClassGaussians(means, precision, background_mean,
                          _ridged_precision(y - background_mean, ridge))


def _ridged_precision(centred: np.ndarray, ridge: float) -> np.ndarray:
    """(Σ + ρI)⁻¹ (d, d) of rows ``centred`` (N, d) about their means, Σ = centredᵀcentred / N
    and ρ = ``ridge`` × the mean diagonal of Σ."""
    covariance = centred.T @ centred / len(centred)
    covariance += ridge * max(float(np.trace(covariance)) / centred.shape[1], 1e-12) \
        * np.eye(centred.shape[1])
    return np.linalg.inv(covariance)
