"""Calibrated confidence: temperature scaling, the expected calibration error and its bins.

A network trained to low loss is usually *overconfident*: among the digits it reads with 99 %
confidence far fewer than 99 % are right. Temperature scaling (Guo et al., 2017) divides the
logits by one number T > 0 fitted on labelled digits the network was not trained on; the
predicted digit never changes (z/T keeps the order of z), only how sure the network says it is.

Logits
------
The probabilities digitlab reports (:meth:`digitlab.nn.MLP.probabilities`) are written here as
a softmax of *calibration logits* s (N, K), so that T = 1 reproduces them:

* softmax output: s = z^{L−1}, the last layer's pre-activations (``ForwardPass.zs[-1]``), and
  p = softmax(z) as today;
* tanh output (the assignment's ±1 targets and squared error): digitlab measures each output
  from its "off" value −1 and normalises, p_k = (1 + y_k) / Σ_j (1 + y_j) with y = tanh(z).
  Since 1 + tanh z = 2σ(2z), with σ the logistic function,

      s_k = log σ(2 z_k) = −log(1 + e^{−2 z_k}),      softmax(s)_k = (1 + y_k) / Σ_j (1 + y_j),

  the constant log 2 cancelling in the softmax. s is computed from z, exactly even where y is
  within rounding of −1; s ≈ 2z for very negative z and s → 0 for large z;
* sigmoid output: p_k = σ(z_k) / Σ_j σ(z_j), so s_k = log σ(z_k);
* other outputs (relu, linear, swish): p_k = max(y_k − low, 0) / Σ_j max(y_j − low, 0), so
  s_k = log max(y_k − low, ε m) with m = max_j (y_j − low) and ε = 1e-12 (an output at or below
  ``low`` gets a tiny rather than a zero share); a row without any output above ``low`` gets
  s = 0, the uniform answer digitlab gives it.

In every case s = log p up to a constant per row, so softmax(s/T)_k ∝ p_k^{1/T}.

Equations
---------
Calibrated probabilities, for N samples with calibration logits s_i and labels y_i:

    p_ik(T) = exp(s_ik / T) / Σ_j exp(s_ij / T)

Temperature scaling picks the T that minimises the mean negative log-likelihood

    NLL(T) = (1/N) Σ_i [ log Σ_k exp(s_ik / T) − s_{i,y_i} / T ],
    dNLL/dT = (1/(N T²)) Σ_i [ s_{i,y_i} − Σ_k p_ik(T) s_ik ].

NLL is convex in β = 1/T (a log-sum-exp of functions linear in β, minus one), hence unimodal in
u = log T; :func:`fit_temperature` minimises it over u with SciPy's bounded Brent search
(T in [0.01, 100]), which is deterministic.

The expected calibration error groups the N samples by their confidence c_i = max_k p_ik into
B equal-width bins (b/B, (b+1)/B] (c = 0 in the first)::

    ECE = Σ_b (n_b / N) |acc_b − conf_b|

with n_b the samples of bin b, acc_b the share of them read correctly and conf_b their mean
confidence. A perfectly calibrated network has ECE 0.

"Not a digit"
-------------
A calibrated network with a threshold (:func:`calibrate` ``with_threshold``) answers "not a
digit" to an input that fails either of two tests, each passed by the same share of the
calibration digits:

1. its top calibrated probability max_k p_k is below τ_p — the network's answer is unsure;
2. its first hidden layer's relative Mahalanobis score M (:mod:`digitlab.mahalanobis`: class
   Gaussians with a shared covariance, less one background Gaussian of all digits, fitted on the
   training digits' activations y^1 with the ridge :data:`CHECK_RIDGE`) is below τ_M — the
   input does not *look* like any digit inside the network, however sure the answer.

The answer alone barely tells a letter from a digit (AUROC about 0.68 at 784-256-256-10) and the
hidden layer is blind to a black image, while the two together tell both
(``benchmarks/bench_ood_scores.py``). :func:`digit_thresholds` picks τ_p and τ_M: with r_p and r_M
the ranks of a calibration digit's two scores among the calibration digits', as shares of N, a
digit passes both exactly when min(r_p, r_M) ≥ q, so q is the (1 − accepted) quantile of that
minimum and τ_p, τ_M the least scores of rank ≥ q. The class means (K, n_1) and the precision
Σ⁻¹ (n_1, n_1) are stored as the model file's arrays ``extra/digit_means`` and
``extra/digit_precision``, the background Gaussian's μ_0 (n_1,) and Σ_0⁻¹ (n_1, n_1) as
``extra/digit_background_mean`` and ``extra/digit_background_precision``, all in float32
(the fitted test is rounded alike, so a loaded model decides exactly as the trained one); a
network whose n_1² exceeds its parameter count (the model file's bound on an extra array) keeps
the first test only. A model file written before the background Gaussian existed scores the
plain M.

The relative score, with a ridge ten times the plain score's, tells drawn letters from digits
better than M at the same share of real digits flagged: on the six honest networks of seeds
0–5, flattening (below) the least digit-like 2.5 % of the calibration digits by M_rel leaves a
drawn letter a median top probability of 0.40 at an ECE of 1.87 %, where M needed 3 % to reach
0.49, at 2.24 % (``benchmarks/bench_honest.py``'s trade-off table).

Flattened answers
-----------------
The second test also shapes the probabilities shown, so that a network does not say "93 %
sure" of what it calls "not a digit". With r(x) the share of calibration digits whose score M
is below x's (its *typicality*, at least 1/N_c), each answer's temperature becomes

    T(x) = T · h(x),    h(x) = max(1, q / r(x)),    q = 0.025 by default (:data:`FLATTEN_BELOW`),

so an input at least as digit-like inside the network as all but 2.5 % of the real digits keeps
softmax(s / T), and one less digit-like than all but r < q of them has its answer flattened
toward uniform by q / r (the digit read never changes). T is fitted without h: fitted by NLL on
real digits, any flattening would be undone (the few real digits that look unusual inside the
network are read about as well as the rest), so h is a prior, not a fit — the share of real
digits it touches is the price, in ECE, of not being sure of a letter. A run chooses q with the
training option ``flatten_below``, and the model file keeps it. The top-probability
threshold is chosen on the flattened probabilities. The sorted scores of the calibration
digits are ``extra/digit_typicality``; a model file without them shows softmax(s / T).

Where it is used
----------------
:func:`calibrate` runs a network over a calibration split, fits T and returns a frozen
:class:`Calibration` that records T, the number of samples and the ECE before and after. The
calibration split comes from :func:`calibration_split`: indices into the *training* split that
are then neither trained on nor the test tenth. :meth:`Calibration.to_dict` is plain JSON for a
model file's metadata; :meth:`Calibration.from_dict` reads it back and refuses a temperature
that is not a finite number > 0. To use it, ``probabilities(x)`` becomes
``calibration.apply(logits_from_outputs(activation, z, y))`` with (z, y) the network's
``output_layer(x)``, which :meth:`Calibration.probabilities` does for a network.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from digitlab.config import DEFAULTS, TrainConfig
from digitlab.data.splits import stratified_holdout
from digitlab.errors import ConfigError, DataError, ModelFileError
from digitlab.formatting import FigureSpec, finite_or_none
from digitlab.i18n import N_, domain, number, percent, significant
from digitlab.mahalanobis import ClassGaussians, fit_class_gaussians
from digitlab.models import Model
from digitlab.nn.activations import get_activation
from digitlab.options import option_of

#: bounds of the temperature search, T in [T_MIN, T_MAX]
T_MIN, T_MAX = 0.01, 100.0
#: equal-width confidence bins of the ECE and the reliability diagram (Guo et al. use 15)
N_BINS = 15
#: the share of held-out digits the "not a digit" threshold lets through (the usual operating
#: point of out-of-distribution detection: 95 % of the real thing accepted)
DIGITS_ACCEPTED = 0.95
#: smallest share, relative to the largest, kept for an output at or below its "off" value
FLOOR = 1e-12
_report = domain("report")
RELIABILITY_FIGURE = FigureSpec(
    "reliability.png",
    N_("Reliability diagram: accuracy per confidence bin before and after temperature scaling "
       "(the diagonal is perfect calibration; shaded, the gap to it)"))


# ---------------------------------------------------------------------- logits
def logits_from_outputs(activation: Any, z: np.ndarray, y: np.ndarray | None = None
                        ) -> np.ndarray:
    """Calibration logits s (N, K), float64, with softmax(s) = digitlab's probabilities.

    Parameters
    ----------
    activation : Activation or str
        The output activation (``network.output_activation``) or its name.
    z : ndarray (N, K)
        The output layer's pre-activations z^{L−1}.
    y : ndarray (N, K), optional
        Its outputs f(z); computed from ``z`` when omitted.

    See the module docstring for the formula of each output activation.
    """

    f = get_activation(activation) if isinstance(activation, str) else activation
    z = np.asarray(z, dtype=np.float64)
    if z.ndim != 2:
        raise DataError(f"logits must have shape (N, K), got {z.shape}")
    if f.name == "softmax":
        return z
    if f.name == "tanh":
        return -np.logaddexp(0.0, -2.0 * z)  # log σ(2z) = log((1 + tanh z) / 2)
    if f.name == "sigmoid":
        return -np.logaddexp(0.0, -z)  # log σ(z)
    y = f.forward(z) if y is None else np.asarray(y, dtype=np.float64)
    above = np.maximum(y - f.low, 0.0)
    largest = above.max(axis=1, keepdims=True) if above.size else above
    with np.errstate(divide="ignore"):
        s = np.log(np.maximum(above, FLOOR * largest))
    return np.where(largest > 0, s, 0.0)  # no output above "off": uniform


def network_logits(network: Any, images: np.ndarray, batch_size: int = 2048) -> np.ndarray:
    """The calibration logits (N, K) of ``network`` on images (N, n_0), from its own batched
    forward pass (:meth:`MLP.output_layer <digitlab.nn.MLP.output_layer>`)."""
    z, y = network.output_layer(np.asarray(images), batch_size)
    return logits_from_outputs(network.output_activation, z, y)


def softmax(logits: np.ndarray, temperature: float = 1.0) -> np.ndarray:
    """p = softmax(s / T) over the last axis, in float64 (shifted by the row maximum)."""
    scaled = np.asarray(logits, dtype=np.float64) / float(temperature)
    scaled = scaled - scaled.max(axis=-1, keepdims=True)
    e = np.exp(scaled)
    return e / e.sum(axis=-1, keepdims=True)


# ---------------------------------------------------------------------- temperature
def _checked(logits: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    s = np.asarray(logits, dtype=np.float64)
    labels = np.asarray(labels)
    if s.ndim != 2 or s.shape[0] == 0 or s.shape[1] < 2:
        raise DataError(f"logits must have shape (N, K) with N >= 1 and K >= 2, got {s.shape}")
    if labels.shape != (s.shape[0],) or not np.issubdtype(labels.dtype, np.integer):
        raise DataError(f"labels must be integers of shape ({s.shape[0]},), got "
                        f"{labels.dtype} {labels.shape}")
    if labels.min() < 0 or labels.max() >= s.shape[1]:
        raise DataError(f"labels must lie in 0..{s.shape[1] - 1}")
    if not np.isfinite(s).all():
        raise DataError("logits must be finite")
    return s, labels.astype(np.int64)


def negative_log_likelihood(logits: np.ndarray, labels: np.ndarray,
                            temperature: float = 1.0) -> float:
    """NLL(T) = (1/N) Σ_i [log Σ_k exp(s_ik / T) − s_{i,y_i} / T], in float64."""
    s, labels = _checked(logits, labels)
    return _nll(s, labels, float(temperature))


def nll_derivative(logits: np.ndarray, labels: np.ndarray, temperature: float) -> float:
    """dNLL/dT = (1/(N T²)) Σ_i [s_{i,y_i} − Σ_k p_ik(T) s_ik], in float64."""
    s, labels = _checked(logits, labels)
    t = float(temperature)
    p = softmax(s, t)
    right = s[np.arange(len(s)), labels]
    return float(np.mean(right - np.einsum("ik,ik->i", p, s)) / (t * t))


def _nll(s: np.ndarray, labels: np.ndarray, t: float) -> float:
    scaled = s / t
    top = scaled.max(axis=1)
    lse = top + np.log(np.exp(scaled - top[:, None]).sum(axis=1))
    return float(np.mean(lse - scaled[np.arange(len(s)), labels]))


def fit_temperature(logits: np.ndarray, labels: np.ndarray) -> float:
    """The temperature T > 0 minimising NLL(T) of softmax(s / T) on labelled samples.

    ``logits`` (N, K) are calibration logits (see :func:`logits_from_outputs`), ``labels`` (N,)
    the true classes. The search runs over log T in [log 0.01, log 100] with SciPy's bounded
    Brent method (NLL is unimodal in log T; see the module docstring); a T that does not lower
    the NLL below that of T = 1 gives T = 1, so logits that say nothing (all equal) keep today's
    probabilities. T > 1 softens an overconfident network, T < 1 sharpens an underconfident one.

    Raises
    ------
    DataError
        If the shapes do not match, a label is out of range, a logit is not finite or there are
        no samples.
    """
    from scipy.optimize import minimize_scalar  # 0.7 s to import: only when a T is fitted

    s, labels = _checked(logits, labels)
    result = minimize_scalar(lambda u: _nll(s, labels, math.exp(u)),
                             bounds=(math.log(T_MIN), math.log(T_MAX)), method="bounded",
                             options={"xatol": 1e-7})
    temperature = math.exp(float(result.x))
    at_one = _nll(s, labels, 1.0)
    if not _nll(s, labels, temperature) < at_one - 1e-12 * max(1.0, abs(at_one)):
        return 1.0
    return temperature


# ---------------------------------------------------------------------- reliability and ECE
@dataclass(frozen=True)
class Reliability:
    """Samples grouped by confidence into equal-width bins (b/B, (b+1)/B].

    Attributes
    ----------
    edges : ndarray (B + 1,)
        Bin edges, 0 to 1.
    confidence : ndarray (B,)
        Mean confidence max_k p_k of each bin's samples (NaN for an empty bin).
    accuracy : ndarray (B,)
        Share of each bin's samples read correctly (NaN for an empty bin).
    count : ndarray (B,), int64
        Samples in each bin.
    """

    edges: np.ndarray
    confidence: np.ndarray
    accuracy: np.ndarray
    count: np.ndarray

    @property
    def n(self) -> int:
        return int(self.count.sum())

    @property
    def ece(self) -> float:
        """``ECE = Σ_b (n_b / N) |acc_b − conf_b|`` (NaN without samples)."""
        if self.n == 0:
            return float("nan")
        filled = self.count > 0
        gaps = np.abs(self.accuracy[filled] - self.confidence[filled])
        return float(np.sum(self.count[filled] * gaps) / self.n)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: the edges and per-bin lists (empty bins' values as null), and the ECE."""
        return {
            "edges": [float(e) for e in self.edges],
            "confidence": [finite_or_none(v) for v in self.confidence],
            "accuracy": [finite_or_none(v) for v in self.accuracy],
            "count": [int(c) for c in self.count],
            "ece": finite_or_none(self.ece),
        }


def reliability(probabilities: np.ndarray, labels: np.ndarray, n_bins: int = N_BINS
                ) -> Reliability:
    """Per-bin confidence, accuracy and count of probabilities (N, K) against labels (N,).

    The confidence of a sample is its largest probability, its answer the class of it; bin b
    holds confidences in (b/B, (b+1)/B], the first also 0.
    """
    if isinstance(n_bins, bool) or not isinstance(n_bins, (int, np.integer)) or n_bins < 1:
        raise ConfigError(f"n_bins must be an integer >= 1, got {n_bins!r}")
    p = np.asarray(probabilities, dtype=np.float64)
    labels = np.asarray(labels)
    if p.ndim != 2 or labels.shape != (p.shape[0],):
        raise DataError(f"probabilities (N, K) and labels (N,) do not match: {p.shape} and "
                        f"{labels.shape}")
    edges = np.linspace(0.0, 1.0, int(n_bins) + 1)
    if p.shape[0] == 0:
        empty = np.full(int(n_bins), np.nan)
        return Reliability(edges, empty, empty.copy(), np.zeros(int(n_bins), dtype=np.int64))
    confidence = p.max(axis=1)
    correct = (p.argmax(axis=1) == labels).astype(np.float64)
    bins = np.searchsorted(edges[1:-1], confidence, side="left")  # (lo, hi]: edge in lower bin
    count = np.bincount(bins, minlength=int(n_bins)).astype(np.int64)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_confidence = np.bincount(bins, confidence, minlength=int(n_bins)) / count
        accuracy = np.bincount(bins, correct, minlength=int(n_bins)) / count
    return Reliability(edges, mean_confidence, accuracy, count)


def expected_calibration_error(probabilities: np.ndarray, labels: np.ndarray,
                               n_bins: int = N_BINS) -> float:
    """``ECE = Σ_b (n_b / N) |acc_b − conf_b|`` over equal-width confidence bins (NaN if
    N = 0)."""
    return reliability(probabilities, labels, n_bins).ece


# ---------------------------------------------------------------------- the fitted calibration
def _check_fields(temperature: Any, fitted_on: Any, ece_before: Any, ece_after: Any,
                  n_bins: Any, error: type[Exception]) -> None:
    def real(value: Any) -> bool:
        return not isinstance(value, bool) and isinstance(value, (int, float, np.integer,
                                                                  np.floating))

    if not real(temperature) or not math.isfinite(temperature) or temperature <= 0:
        raise error(f"calibration temperature must be a finite number > 0, got {temperature!r}")
    if isinstance(fitted_on, bool) or not isinstance(fitted_on, (int, np.integer)) \
            or fitted_on < 0:
        raise error(f"calibration fitted_on must be an integer >= 0, got {fitted_on!r}")
    for name, value in (("ece_before", ece_before), ("ece_after", ece_after)):
        if value is not None and (not real(value) or not 0.0 <= value <= 1.0):
            raise error(f"calibration {name} must be a number in [0, 1] or null, got {value!r}")
    if isinstance(n_bins, bool) or not isinstance(n_bins, (int, np.integer)) or n_bins < 1:
        raise error(f"calibration n_bins must be an integer >= 1, got {n_bins!r}")


#: the hidden layer whose activations the second "not a digit" test reads (y^1)
CHECK_LAYER = 1
#: ρ of its class and background Gaussians, relative to their mean variance
CHECK_RIDGE = 1e-2
#: the model file's arrays of that test; the first two are needed, the background pair
#: (:data:`BACKGROUND_ARRAYS`) comes together or not at all, the reference scores may be absent
CHECK_ARRAYS = ("digit_means", "digit_precision", "digit_background_mean",
                "digit_background_precision", "digit_typicality")
BACKGROUND_ARRAYS = CHECK_ARRAYS[2:4]
#: q: an answer is flattened where the input looks less like a digit than all but this share
#: of the calibration digits (its first hidden layer's score M), unless the run chose another
#: (the training option ``flatten_below``, where the choice is explained; at most
#: :data:`MAX_FLATTEN_BELOW`)
FLATTEN_BELOW: float = DEFAULTS["flatten_below"]
#: q of model files written before the training option ``flatten_below`` existed
FIRST_FLATTEN_BELOW = 0.03
MAX_FLATTEN_BELOW: float = option_of(TrainConfig.__dataclass_fields__["flatten_below"]).high


@dataclass(frozen=True, eq=False)
class HiddenCheck:
    """The second "is it a digit?" test: the Mahalanobis score of a hidden layer's activations
    (module docstring) must reach ``threshold``; and, with ``reference``, how much an input's
    answer is flattened for looking unlike the real digits (:meth:`flattening`)."""

    gaussians: ClassGaussians
    threshold: float
    layer: int = CHECK_LAYER
    #: the calibration digits' scores M, sorted (N_c,); None: answers are never flattened
    reference: np.ndarray | None = None
    #: q of the flattening: answers of inputs less digit-like than all but this share of the
    #: calibration digits are flattened (0: never)
    flatten_below: float = FLATTEN_BELOW

    def __post_init__(self) -> None:
        _check_flatten_below(self.flatten_below, ConfigError)

    def __eq__(self, other: object) -> bool:
        """Equal Gaussians, threshold, layer, reference and q, value for value."""
        if not isinstance(other, HiddenCheck):
            return False
        same_reference = (self.reference is None) == (other.reference is None) and (
            self.reference is None or np.array_equal(self.reference, other.reference))
        return (self.gaussians == other.gaussians and self.threshold == other.threshold
                and self.layer == other.layer and same_reference
                and self.flatten_below == other.flatten_below)

    __hash__ = None  # type: ignore[assignment]  # arrays inside

    def scores(self, network: Any, images: np.ndarray, batch_size: int = 2048) -> np.ndarray:
        """M (N,) of images (N, n_0), fed to ``network`` as its ``forward`` takes them."""
        return self.gaussians.score(hidden_activations(network, images, self.layer,
                                                       batch_size))

    def typicality(self, features: np.ndarray) -> np.ndarray:
        """r (N,): the share of the calibration digits whose score M is below that of each row
        of ``features`` (N, n_layer), the layer's activations; 0 for an input less digit-like
        than every real one."""
        if self.reference is None:
            raise ConfigError("this hidden-layer test has no reference scores")
        return typicality_of_scores(self.gaussians.score(features), self.reference)

    def flattening(self, features: np.ndarray) -> np.ndarray:
        """h (N,) ≥ 1, the factor on the temperature (module docstring) for the layer's
        activations ``features`` (N, n_layer); 1 where no reference is stored."""
        return self.flattening_of_scores(self.gaussians.score(features))

    def flattening_of_scores(self, scores: np.ndarray) -> np.ndarray:
        """h (N,) for scores M (N,) already computed; 1 where no reference is stored."""
        if self.reference is None:
            return np.ones(len(scores))
        return self.flattening_of_typicality(typicality_of_scores(scores, self.reference))

    def flattening_of_typicality(self, typicality: np.ndarray) -> np.ndarray:
        """h = max(1, q / max(r, 1 / N_c)) for typicalities r (N,), q = :attr:`flatten_below`."""
        floor = 1.0 / (len(self.reference) if self.reference is not None else 1)
        return np.maximum(1.0, self.flatten_below / np.maximum(typicality, floor))

    def fields(self) -> dict[str, Any]:
        """The fields of the model file's calibration JSON beside :meth:`arrays`."""
        return {"hidden_threshold": float(self.threshold), "hidden_layer": int(self.layer),
                "flatten_below": float(self.flatten_below)}

    def arrays(self) -> dict[str, np.ndarray]:
        """The model file's arrays (names :data:`CHECK_ARRAYS`), float32."""
        gaussians = self.gaussians
        arrays = {"digit_means": gaussians.means.astype(np.float32),
                  "digit_precision": gaussians.precision.astype(np.float32)}
        if gaussians.relative:
            arrays.update(zip(BACKGROUND_ARRAYS, (
                gaussians.background_mean.astype(np.float32),
                gaussians.background_precision.astype(np.float32)), strict=True))
        if self.reference is not None:
            arrays["digit_typicality"] = self.reference.astype(np.float32)
        return arrays


def typicality_of_scores(scores: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """r (N,): the share of the sorted ``reference`` scores (N_c,) below each of ``scores``."""
    return np.searchsorted(reference, scores, side="left") / len(reference)


def hidden_activations(network: Any, images: np.ndarray, layer: int = CHECK_LAYER,
                       batch_size: int = 2048) -> np.ndarray:
    """y^layer (N, n_layer), float64, of images (N, n_0) through ``network.forward`` in
    batches (a model wrapper applies its preprocessing first)."""
    return logits_and_features(network, images, layer, batch_size)[1]


def logits_and_features(network: Any, images: np.ndarray, layer: int = CHECK_LAYER,
                        batch_size: int = 2048) -> tuple[np.ndarray, np.ndarray]:
    """Calibration logits s (N, K) and y^layer (N, n_layer), both float64, of images (N, n_0)
    from one forward pass per batch."""
    images = np.asarray(images)
    logits, features = [], []
    for i in range(0, len(images), batch_size):
        trace = network.forward(images[i:i + batch_size])
        logits.append(logits_from_outputs(network.output_activation, trace.zs[-1], trace.output))
        features.append(np.asarray(trace.ys[layer], dtype=np.float64))
    if not logits:
        return np.zeros((0, network.sizes[-1])), np.zeros((0, network.sizes[layer]))
    return np.concatenate(logits), np.concatenate(features)


def can_check_hidden(network: Any) -> bool:
    """Whether the hidden-layer test fits ``network``: an MLP-like network with a hidden layer
    whose precision matrix (n_1²) a model file may hold (at most one value per parameter)."""
    sizes = getattr(network, "sizes", None)
    params = getattr(network, "params", None)
    return (callable(getattr(network, "forward", None)) and sizes is not None
            and len(sizes) > 2 and params is not None
            and sizes[CHECK_LAYER] ** 2 <= np.asarray(params).size)


def digit_thresholds(top: np.ndarray, hidden: np.ndarray, accepted: float = DIGITS_ACCEPTED
                     ) -> tuple[float, float]:
    """(τ_p, τ_M) such that a share ``accepted`` of the calibration digits, with top
    probabilities ``top`` (N,) and hidden-layer scores ``hidden`` (N,), passes both tests, each
    test passed by the same share (module docstring)."""
    top, hidden = np.asarray(top, np.float64), np.asarray(hidden, np.float64)
    if top.ndim != 1 or top.size == 0 or hidden.shape != top.shape:
        raise DataError(f"scores must be two non-empty (N,) arrays, got {top.shape} and "
                        f"{hidden.shape}")
    n = len(top)

    def ranks(values: np.ndarray) -> np.ndarray:  # share of digits scoring lower: ties equal
        return np.searchsorted(np.sort(values), values, side="left") / n

    r_top, r_hidden = ranks(top), ranks(hidden)
    q = float(np.sort(np.minimum(r_top, r_hidden))[int(np.floor((1.0 - accepted) * n))])
    return float(top[r_top >= q].min()), float(hidden[r_hidden >= q].min())


@dataclass(frozen=True)
class Calibration:
    """A fitted temperature and what it did, stored as plain JSON beside a network.

    Attributes
    ----------
    temperature : float
        T > 0; probabilities are softmax(s / T) of the calibration logits s.
    fitted_on : int
        Samples of the calibration split T was fitted on.
    ece_before, ece_after : float or None
        ECE on that split at T = 1 (softmax(s): the network's own probabilities, up to
        rounding) and at the fitted T.
    n_bins : int
        Confidence bins of those ECEs.
    """

    temperature: float
    fitted_on: int = 0
    ece_before: float | None = None
    ece_after: float | None = None
    n_bins: int = N_BINS
    #: the calibrated top probability below which the answer is "not a digit" (None: always a
    #: digit), chosen so that :data:`DIGITS_ACCEPTED` of the calibration digits pass
    threshold: float | None = None
    #: the second "not a digit" test, on a hidden layer (None: the top probability only)
    hidden: HiddenCheck | None = None

    def __post_init__(self) -> None:
        _check_fields(self.temperature, self.fitted_on, self.ece_before, self.ece_after,
                      self.n_bins, ConfigError)
        _check_threshold(self.threshold, ConfigError)

    def arrays(self) -> dict[str, np.ndarray]:
        """The arrays a model file holds beside :meth:`to_dict` (``extra/NAME``): the hidden-
        layer test's, or none."""
        return {} if self.hidden is None else self.hidden.arrays()

    def decide(self, network: Any, images: np.ndarray, batch_size: int = 2048
               ) -> tuple[np.ndarray, np.ndarray]:
        """Calibrated probabilities (N, K) of images (N, n_0) and whether each passes the "not
        a digit" tests (N,) bool — :meth:`probabilities` and :meth:`accepts` from one forward
        pass (the lab's answers)."""
        if self.hidden is None:
            p = self.probabilities(network, images, batch_size)
            return p, self._passes(p, None)
        s, features = logits_and_features(network, images, self.hidden.layer, batch_size)
        scores = self.hidden.gaussians.score(features)  # M (N,), for both uses
        p = self.probabilities_of_scores(s, scores).astype(network.dtype)
        return p, self._passes(p, scores)

    def accepts(self, network: Any, images: np.ndarray, probabilities: np.ndarray,
                batch_size: int = 2048) -> np.ndarray:
        """(N,) bool: images (N, n_0) whose calibrated ``probabilities`` (N, K) pass the
        threshold and, with a hidden-layer test, whose activations in ``network`` (fed as its
        ``forward`` takes them) pass it too; all True without a threshold."""
        scores = None
        if self.threshold is not None and self.hidden is not None:
            scores = self.hidden.scores(network, images, batch_size)
        return self._passes(np.asarray(probabilities), scores)

    def _passes(self, probabilities: np.ndarray, scores: np.ndarray | None) -> np.ndarray:
        """The rule itself: top probability ≥ τ_p and, with the hidden-layer test's scores M
        (N,), M ≥ τ_M; all True without a threshold."""
        if self.threshold is None:
            return np.ones(len(probabilities), dtype=bool)
        accepted = probabilities.max(axis=1) >= self.threshold
        if scores is not None:
            accepted &= scores >= self.hidden.threshold
        return accepted

    @property
    def flattens(self) -> bool:
        """Whether answers depend on the hidden layer too (:meth:`HiddenCheck.flattening`)."""
        return self.hidden is not None and self.hidden.reference is not None

    def apply(self, logits: np.ndarray, features: np.ndarray | None = None) -> np.ndarray:
        """Calibrated probabilities softmax(s / (T h)) (N, K) of calibration logits s (N, K);
        h = 1, or, where the calibration :attr:`flattens`, the flattening of the hidden
        layer's activations ``features`` (N, n_layer), which it then needs. float32 logits
        give float32 probabilities, anything else float64."""
        scores = None
        if self.flattens:
            if features is None:
                raise ConfigError("these probabilities need the hidden layer's activations")
            scores = self.hidden.gaussians.score(features)
        p = self.probabilities_of_scores(logits, scores)
        dtype = np.asarray(logits).dtype
        return p.astype(np.float32) if dtype == np.float32 else p

    def probabilities_of_scores(self, logits: np.ndarray, scores: np.ndarray | None
                                ) -> np.ndarray:
        """softmax(s / (T h)) (N, K), float64, of logits s (N, K), h from the hidden-layer
        scores M (N,) already computed, where the calibration :attr:`flattens` (else h = 1)."""
        if not self.flattens or scores is None:
            return softmax(logits, self.temperature)
        scale = self.hidden.flattening_of_scores(scores)[:, None]
        return softmax(np.asarray(logits, np.float64) / scale, self.temperature)

    def probabilities(self, network: Any, images: np.ndarray, batch_size: int = 2048
                      ) -> np.ndarray:
        """Calibrated probabilities (N, K) of ``network`` on images (N, n_0), in its dtype
        (one forward pass gives the logits and, where needed, the hidden layer)."""
        if not self.flattens:
            return self.apply(network_logits(network, images, batch_size)).astype(
                network.dtype)
        s, features = logits_and_features(network, images, self.hidden.layer, batch_size)
        return self.apply(s, features).astype(network.dtype)

    def to_dict(self) -> dict[str, Any]:
        """``{"temperature", "fitted_on", "ece_before", "ece_after", "n_bins"}``, JSON-safe."""
        return {
            "temperature": float(self.temperature),
            "fitted_on": int(self.fitted_on),
            "ece_before": None if self.ece_before is None else finite_or_none(self.ece_before),
            "ece_after": None if self.ece_after is None else finite_or_none(self.ece_after),
            "n_bins": int(self.n_bins),
            "threshold": None if self.threshold is None else float(self.threshold),
            **({} if self.hidden is None else self.hidden.fields()),
        }

    @classmethod
    def from_dict(cls, data: Any, arrays: Mapping[str, np.ndarray] | None = None
                  ) -> Calibration:
        """The calibration :meth:`to_dict` wrote, checked; keys it does not know are ignored.
        With the model file's ``arrays`` (``extra/`` names, as ``SavedModel.extra_arrays``)
        the hidden-layer test is rebuilt too; without them only its fields are checked.

        Raises
        ------
        ModelFileError
            If ``data`` is not a mapping or a value is invalid, e.g. a temperature that is not
            a finite number > 0 (a one-line message naming the field and the value).
        """
        if not isinstance(data, Mapping):
            raise ModelFileError(f"calibration must be a JSON object, got {type(data).__name__}")
        if "temperature" not in data:
            raise ModelFileError("calibration has no temperature")
        fields = {
            "temperature": data["temperature"],
            "fitted_on": data.get("fitted_on", 0),
            "ece_before": data.get("ece_before"),
            "ece_after": data.get("ece_after"),
            "n_bins": data.get("n_bins", N_BINS),
        }
        _check_fields(*fields.values(), error=ModelFileError)
        threshold = data.get("threshold")
        _check_threshold(threshold, ModelFileError)
        hidden = _hidden_check(data, arrays)
        return cls(temperature=float(fields["temperature"]), fitted_on=int(fields["fitted_on"]),
                   ece_before=_optional_float(fields["ece_before"]),
                   ece_after=_optional_float(fields["ece_after"]), n_bins=int(fields["n_bins"]),
                   threshold=_optional_float(threshold), hidden=hidden)


def _hidden_check(data: Mapping[str, Any], arrays: Mapping[str, np.ndarray] | None
                  ) -> HiddenCheck | None:
    """The hidden-layer test :meth:`Calibration.to_dict` and :meth:`Calibration.arrays` wrote,
    checked (None where the calibration has none, or ``arrays`` is None)."""
    if data.get("hidden_threshold") is None:
        return None
    value, layer = data["hidden_threshold"], data.get("hidden_layer", CHECK_LAYER)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ModelFileError(f"calibration hidden_threshold must be a finite number, got "
                             f"{value!r}")
    if isinstance(layer, bool) or not isinstance(layer, int) or layer < 1:
        raise ModelFileError(f"calibration hidden_layer must be an integer >= 1, got {layer!r}")
    if arrays is None:
        return None
    missing = [name for name in CHECK_ARRAYS[:2] if name not in arrays]
    if missing:
        raise ModelFileError(f"calibration has a hidden-layer test but no arrays {missing}")
    means = np.asarray(arrays["digit_means"], np.float64)
    precision = np.asarray(arrays["digit_precision"], np.float64)
    if means.ndim != 2 or precision.shape != (means.shape[1], means.shape[1]):
        raise ModelFileError(f"calibration arrays digit_means {means.shape} and digit_precision "
                             f"{precision.shape} do not fit together (expected (K, d) and "
                             "(d, d))")
    background = _background_arrays(arrays, means.shape[1])
    reference = None
    if "digit_typicality" in arrays:
        reference = np.asarray(arrays["digit_typicality"], np.float64)
        if reference.ndim != 1 or reference.size == 0 or np.any(np.diff(reference) < 0):
            raise ModelFileError(f"calibration array digit_typicality must be a non-empty "
                                 f"sorted (N,) array, got shape {reference.shape}")
    # model files written before q could be chosen flattened below the 3 % it then always was
    flatten_below = data.get("flatten_below", FIRST_FLATTEN_BELOW)
    _check_flatten_below(flatten_below, ModelFileError)
    return HiddenCheck(ClassGaussians(means, precision, *background), float(value), int(layer),
                       reference, float(flatten_below))


def _background_arrays(arrays: Mapping[str, np.ndarray], width: int
                       ) -> tuple[np.ndarray, np.ndarray] | tuple[None, None]:
    """μ_0 (d,) and Σ_0⁻¹ (d, d) of the hidden-layer test's background Gaussian, checked;
    (None, None) in a file written before it existed."""
    present = [name for name in BACKGROUND_ARRAYS if name in arrays]
    if not present:
        return None, None
    if len(present) == 1:
        missing = next(name for name in BACKGROUND_ARRAYS if name not in arrays)
        raise ModelFileError(f"calibration has the array {present[0]} but not {missing}")
    mean, precision = (np.asarray(arrays[name], np.float64) for name in BACKGROUND_ARRAYS)
    if mean.shape != (width,) or precision.shape != (width, width):
        raise ModelFileError(f"calibration arrays digit_background_mean {mean.shape} and "
                             f"digit_background_precision {precision.shape} do not fit the "
                             f"hidden layer (expected ({width},) and ({width}, {width}))")
    return mean, precision


def _check_flatten_below(value: Any, error: type[Exception]) -> None:
    if (isinstance(value, bool) or not isinstance(value, (int, float, np.floating))
            or not math.isfinite(value) or not 0.0 <= value <= MAX_FLATTEN_BELOW):
        raise error(f"calibration flatten_below must be a number in [0, {MAX_FLATTEN_BELOW}], "
                    f"got {value!r}")


def _check_threshold(value: Any, error: type[Exception]) -> None:
    if value is None:
        return
    if (isinstance(value, bool) or not isinstance(value, (int, float, np.floating))
            or not math.isfinite(value) or not 0.0 <= value <= 1.0):
        raise error(f"calibration threshold must be a number in [0, 1] or null, got {value!r}")


def _optional_float(value: Any) -> float | None:
    return None if value is None else float(value)


def calibrate(network: Any, images: np.ndarray, labels: np.ndarray, *, n_bins: int = N_BINS,
              batch_size: int = 2048, with_threshold: bool = False,
              training_digits: tuple[np.ndarray, np.ndarray] | None = None,
              flatten_below: float = FLATTEN_BELOW) -> Calibration:
    """Fit the temperature of ``network`` on a calibration split.

    Parameters
    ----------
    network : MLP
        Any network with ``output_layer(x, batch_size) -> (z, y)``, ``output_activation`` and
        ``sizes``: an :class:`~digitlab.nn.MLP`, a ``SavedModel.model`` (which applies the
        model's preprocessing to raw images first), an ensemble (whose logits are log p).
    images : ndarray (N, n_0)
        Pixels in [0, 1] the network was not trained on (see :func:`calibration_split`).
    labels : ndarray (N,)
        Their integer classes.

    with_threshold : bool
        Also choose the "not a digit" threshold (:func:`digit_threshold`) on these digits.
    training_digits : (images (M, n_0), labels (M,)), optional
        With ``with_threshold``, the digits the network trained on: the hidden-layer test's
        class Gaussians are fitted on their activations and both thresholds chosen together
        (:func:`digit_thresholds`), where the network allows it (:func:`can_check_hidden`).
    flatten_below : float
        q of the flattened answers (module docstring): the share of the calibration digits
        least like a digit inside the network whose answers are flattened (0: none). Larger
        turns more non-digits away and leaves the unusual real digits, most of them read
        right, less sure of themselves (a higher ECE).

    Returns
    -------
    Calibration
        The fitted T, N, and the ECE at T = 1 (the network's own probabilities, computed from
        the same logits so that the digit read is the same before and after) and at T.
    """
    images, labels = np.asarray(images), np.asarray(labels)
    if images.ndim != 2 or images.shape[1] != network.sizes[0]:
        raise DataError(f"images must have shape (N, {network.sizes[0]}), got {images.shape}")
    if labels.shape != (len(images),):
        raise DataError(f"labels must have shape ({len(images)},), got {labels.shape}")
    z, y = network.output_layer(images, batch_size)
    s = logits_from_outputs(network.output_activation, z, y)
    temperature = fit_temperature(s, labels)
    before = expected_calibration_error(softmax(s), labels, n_bins)
    after = expected_calibration_error(softmax(s, temperature), labels, n_bins)
    top = softmax(s, temperature).max(axis=1)
    threshold, hidden = (digit_threshold(top) if with_threshold else None), None
    if with_threshold and training_digits is not None and can_check_hidden(network):
        fitted = fit_class_gaussians(
            hidden_activations(network, training_digits[0], CHECK_LAYER, batch_size),
            np.asarray(training_digits[1]), n_classes=s.shape[1], ridge=CHECK_RIDGE,
            relative=True)
        # rounded as the model file stores them, so a loaded model decides exactly alike
        gaussians = ClassGaussians(*(np.asarray(a, np.float32).astype(np.float64) for a in (
            fitted.means, fitted.precision, fitted.background_mean, fitted.background_precision)))
        features = hidden_activations(network, images, CHECK_LAYER, batch_size)
        scores = gaussians.score(features)
        reference = np.sort(scores).astype(np.float32).astype(np.float64)  # stored alike
        # each answer flattened by how unlike a digit it looks; T stays the digits' own (fitted
        # with the flattening, T would sharpen every answer to make up for the few real digits
        # that look unusual, which are read as well as the rest)
        scale = HiddenCheck(gaussians, 0.0, reference=reference,
                            flatten_below=flatten_below).flattening_of_scores(scores)[:, None]
        after = expected_calibration_error(softmax(s / scale, temperature), labels, n_bins)
        top = softmax(s / scale, temperature).max(axis=1)
        threshold, hidden_threshold = digit_thresholds(top, scores)
        hidden = HiddenCheck(gaussians, hidden_threshold, reference=reference,
                             flatten_below=flatten_below)
    return Calibration(temperature=temperature, fitted_on=int(len(labels)),
                       ece_before=finite_or_none(before), ece_after=finite_or_none(after),
                       n_bins=int(n_bins), threshold=threshold, hidden=hidden)


# ---------------------------------------------------------------------- "not a digit"


def digit_threshold(top_probabilities: np.ndarray, accepted: float = DIGITS_ACCEPTED) -> float:
    """The top probability τ below which an image is "not a digit": the (1 − accepted)
    quantile of the calibrated top probabilities max_k p_k (N,) of held-out real digits, so
    that a share ``accepted`` of them is still read as a digit."""
    top = np.asarray(top_probabilities, dtype=np.float64)
    if top.ndim != 1 or top.size == 0:
        raise DataError(f"top probabilities must be a non-empty (N,) array, got {top.shape}")
    return float(np.quantile(top, 1.0 - accepted, method="lower"))


class Calibrated:
    """A model whose probabilities are calibrated: ``probabilities(x)`` is softmax(s / T) of
    its calibration logits s (see :func:`logits_from_outputs`), and :meth:`is_digit` says
    whether the top one reaches the stored threshold. ``predict`` (the raw outputs y^L),
    ``classify`` (unchanged by T > 0) and every other attribute are the wrapped model's."""

    calibrated = True

    def __init__(self, model: Model, calibration: Calibration) -> None:
        self.model, self.calibration = model, calibration

    def probabilities(self, x: np.ndarray, batch_size: int = 2048) -> np.ndarray:
        """Calibrated probabilities (N, K) of raw images x (N, n_0), in the model's dtype."""
        return self.calibration.probabilities(self.model, x, batch_size)

    def is_digit(self, x: np.ndarray, batch_size: int = 2048) -> np.ndarray:
        """(N,) bool: raw images x (N, n_0) that pass the "not a digit" tests (the top
        calibrated probability reaches the threshold, and the hidden layer's score its own
        where the calibration has that test); all True without a threshold."""
        if self.calibration.threshold is None:
            return np.ones(len(x), dtype=bool)
        return self.calibration.decide(self.model, x, batch_size)[1]

    def __getattr__(self, name: str) -> Any:
        return getattr(self.model, name)


def with_calibration(model: Model, calibration: Calibration | None) -> Model:
    """``model`` itself without a calibration, else a :class:`Calibrated` wrapper."""
    return model if calibration is None else Calibrated(model, calibration)


def calibration_of(model: Any) -> Calibration | None:
    """The calibration ``model``'s probabilities go through: a :class:`Calibrated` model's
    (e.g. ``SavedModel.model`` of a calibrated run), None for any other model."""
    return model.calibration if getattr(model, "calibrated", False) is True else None


def calibration_fields(calibration: Calibration | None) -> dict[str, Any]:
    """``{"calibrated", "temperature", "threshold", "hidden_test"}`` for JSON answers: whether
    the probabilities shown are calibrated, with which T, the "not a digit" threshold (None:
    every answer is a digit) and whether the hidden-layer test decides too."""
    return {"calibrated": calibration is not None,
            "temperature": None if calibration is None else float(calibration.temperature),
            "threshold": None if calibration is None or calibration.threshold is None
            else float(calibration.threshold),
            "hidden_test": calibration is not None and calibration.hidden is not None}


NOT_CALIBRATED = N_("not calibrated: this network's confidence is not a probability it has "
                    "earned")


def calibration_summary(calibration: Calibration | None) -> str:
    """One line, in the active language, saying whether (and how) the probabilities shown are
    calibrated, e.g. ``probabilities calibrated (T = 0.84; ECE 4.1 % -> 0.9 % on 300 held-out
    digits); below 62.0 % the answer is "not a digit"``."""
    _, ngettext = _report.gettext, _report.ngettext
    if calibration is None:
        return _(NOT_CALIBRATED)
    details = [f"T = {significant(calibration.temperature, 3)}"]
    if calibration.ece_before is not None and calibration.ece_after is not None:
        details.append(ngettext("ECE {before} -> {after} on {n} held-out digit",
                                "ECE {before} -> {after} on {n} held-out digits",
                                calibration.fitted_on).format(
            before=percent(calibration.ece_before), after=percent(calibration.ece_after),
            n=number(calibration.fitted_on)))
    line = _("probabilities calibrated ({details})").format(details="; ".join(details))
    if calibration.threshold is not None and calibration.hidden is not None:
        line += _('; below {threshold}, or where its first hidden layer sees no digit, the '
                  'answer is "not a digit"').format(threshold=percent(calibration.threshold))
    elif calibration.threshold is not None:
        line += _('; below {threshold} the answer is "not a digit"').format(
            threshold=percent(calibration.threshold))
    return line


# ---------------------------------------------------------------------- the calibration split
def calibration_split(n: int, fraction: float, seed: int, labels: np.ndarray | None = None
                      ) -> tuple[np.ndarray, np.ndarray]:
    """Split ``n`` training samples into (train_index, calibration_index), from a seed.

    ``n`` counts the training split as :func:`digitlab.load_dataset` returns it, after the test
    tenth (and any validation share) was held out; a network trained on ``train_index`` only
    is then calibrated on samples that are neither trained on nor the test tenth.
    ``round(fraction · n)`` samples (at least one, and at least one left to train on) are drawn
    with a stream of their own, the third child of ``SeedSequence(seed)`` (the data split uses
    the first two), so the same seed always gives the same split and never changes the test or
    validation split. With ``labels`` (n,) the draw is stratified: each class gives its share.

    Returns
    -------
    train_index, calibration_index : ndarray of int64
        Sorted, disjoint, together ``0..n−1``.

    Raises
    ------
    ConfigError
        If ``n`` < 2, ``fraction`` is not in (0, 1), the seed is not an integer >= 0, or
        ``labels`` does not have n entries.
    """

    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 2:
        raise ConfigError(f"calibration split needs n >= 2 samples, got {n!r}")
    if isinstance(fraction, bool) or not isinstance(fraction, (int, float, np.floating)) \
            or not 0.0 < fraction < 1.0:
        raise ConfigError(f"calibration fraction must be in (0, 1), got {fraction!r}")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ConfigError(f"seed must be an integer >= 0, got {seed!r}")
    rng = np.random.default_rng(np.random.SeedSequence(int(seed)).spawn(3)[2])
    n = int(n)
    if labels is not None:
        labels = np.asarray(labels)
        if labels.shape != (n,):
            raise ConfigError(f"labels must have shape ({n},), got {labels.shape}")
        train_index, calibration_index = stratified_holdout(labels, float(fraction), rng)
        if 0 < calibration_index.size < n:
            return train_index, calibration_index
        # too few samples per class to round to a non-empty share: fall back to a plain draw
    held = min(max(int(round(float(fraction) * n)), 1), n - 1)
    order = rng.permutation(n)
    return (np.sort(order[held:]).astype(np.int64), np.sort(order[:held]).astype(np.int64))
