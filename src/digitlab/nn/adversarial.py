"""Adversarial examples: equation (3) turned against the network.

Deep dream walks the input *down* the loss, ``y⁰ ← y⁰ + η δ⁰W⁰ = y⁰ − η ∂E/∂y⁰`` (3). An
adversarial example walks a real digit *up* the loss, but only a little: it looks for the
perturbation of at most ε (in the L2 or the L∞ norm) that most raises E for the digit's own
target t. Training on such inputs (adversarial training) teaches the network to answer the same
within that ball.

Shapes: a batch of B inputs ``x`` (B, n_0) (n_0 = 784 for MNIST), targets ``t`` (B, n_L) as the
loss expects them (:meth:`MLP.targets`), the input gradient ``g = ∂E_b/∂y⁰_b = −δ⁰W⁰`` (B, n_0),
one row per sample (each sample's own E_b, not the batch mean).

Projected gradient ascent (:func:`pgd`), from x⁰ = x (or a random point of the ball):

    L∞:  x^{k+1} = Π(x^k + α sign(g^k))
    L2:  x^{k+1} = Π(x^k + α g^k / ‖g^k‖₂)          (no step where g^k = 0)
    Π(x) = clip_[lo, hi](x_clean + P_ε(x − x_clean))

where P_ε clips each difference to [−ε, ε] (L∞) or scales each row down to length ε (L2), and
``clip_[lo, hi]`` keeps pixels in the box (default [0, 1]). Since x_clean lies in the box, the
clip only ever moves a pixel towards x_clean, so Π(x) lies in the ball and in the box: for L∞ it
is the exact projection onto their intersection (a box), for L2 the usual approximation of it.
FGSM is one L∞ step of α = ε from x_clean: ``x + ε sign(g)``, clipped to the box.

The attacks run the network as it would be evaluated: no dropout masks (the forward pass of
:meth:`MLP.forward` without masks), whatever dropout the training uses. They compute the input
gradient with the network's own pieces (equation (1) carried one layer further down, as in
:meth:`MLP.input_gradient`) but without the weight gradients, and leave :attr:`MLP.grads` as
they were: a training step may call them anywhere before it trains on their result. All arrays
follow the network's dtype; randomness comes only from the ``rng`` passed in, so the same
generator state gives bit-identical examples.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from digitlab.errors import ConfigError
from digitlab.nn.losses import Loss
from digitlab.nn.network import MLP

NORMS = ("l2", "linf")
#: lengths below this count as zero (no L2 direction, no L2 projection)
_TINY = 1e-30


@dataclass(frozen=True)
class AttackOptions:
    """How :func:`pgd` searches the ε-ball; validated on construction.

    norm : ``"l2"`` or ``"linf"``, the norm of the ball ‖x_adv − x‖ ≤ ε.
    epsilon : ε > 0, the radius (in pixel units: L∞ 0.1 lets every pixel move by 0.1).
    steps : the number of gradient steps (≥ 1).
    step_size : α > 0, the length of each step (L2) or each pixel's change (L∞); None gives
        2.5·ε/steps, which can cross the ball from any start and still leaves steps to spare.
    random_start : start from a uniform random point of the ball rather than from x.
    clip : the pixel box (lo, hi) every example stays in, or None for no box.
    """

    norm: str = "linf"
    epsilon: float = 0.1
    steps: int = 10
    step_size: float | None = None
    random_start: bool = True
    clip: tuple[float, float] | None = (0.0, 1.0)

    def __post_init__(self) -> None:
        if self.clip is not None and isinstance(self.clip, (list, np.ndarray)):
            object.__setattr__(self, "clip", tuple(self.clip))
        self.validate()

    @classmethod
    def fgsm(cls, epsilon: float, clip: tuple[float, float] | None = (0.0, 1.0)) -> AttackOptions:
        """The fast gradient sign method: one L∞ step of α = ε from x, x + ε sign(∂E/∂y⁰)."""
        return cls(norm="linf", epsilon=epsilon, steps=1, step_size=epsilon, random_start=False,
                   clip=clip)

    @property
    def alpha(self) -> float:
        """The step length α: ``step_size``, or 2.5·ε/steps when that is None."""
        return float(self.step_size) if self.step_size is not None else (
            2.5 * float(self.epsilon) / self.steps)

    def validate(self) -> None:
        """Raise :class:`ConfigError` naming the first invalid option and its value."""
        what = "attack option"
        if self.norm not in NORMS:
            raise ConfigError(f"{what} norm must be one of {', '.join(NORMS)}; got {self.norm!r}")
        _check_positive("epsilon", self.epsilon)
        if isinstance(self.steps, bool) or not isinstance(self.steps, numbers.Integral):
            raise ConfigError(f"{what} steps must be an integer, got {self.steps!r}")
        if self.steps < 1:
            raise ConfigError(f"{what} steps must be >= 1, got {self.steps!r}")
        if self.step_size is not None:
            _check_positive("step_size", self.step_size)
        if not isinstance(self.random_start, (bool, np.bool_)):
            raise ConfigError(f"{what} random_start must be true or false, "
                              f"got {self.random_start!r}")
        if self.clip is not None:
            clip = self.clip
            if (not isinstance(clip, tuple) or len(clip) != 2
                    or not all(_is_finite_number(v) for v in clip) or not clip[0] < clip[1]):
                raise ConfigError(f"{what} clip must be None or a pixel box (lo, hi) with "
                                  f"lo < hi, got {clip!r}")


def _is_finite_number(value) -> bool:
    return (not isinstance(value, (bool, np.bool_)) and isinstance(value, numbers.Real)
            and math.isfinite(value))


def _check_positive(name: str, value) -> None:
    if not _is_finite_number(value):
        raise ConfigError(f"attack option {name} must be a finite number, got {value!r}")
    if value <= 0:
        raise ConfigError(f"attack option {name} must be > 0, got {value!r}")


#: ``gradient(x, t) -> (E (B,), ∂E/∂y⁰ (B, n_0))``: how an attack gets its gradient
Gradient = Callable[[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]


# ---------------------------------------------------------------------------------- pieces
def input_gradient(network: MLP, x: np.ndarray, t: np.ndarray, loss: Loss, *,
                   reference: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """``(E, g)``: each sample's loss E_b (B,) and its input gradient g_b = ∂E_b/∂y⁰_b (B, n_0).

    Equation (1) carries δ^l = −∂E/∂z^l down the layers from the output delta,
    δ^{l−1} = (δ^l W^l) ⊙ f′(z^{l−1}), and one more product gives ∂E/∂y⁰ = −δ⁰W⁰. This uses the
    network's own pieces (:meth:`MLP.forward` without dropout masks, :meth:`MLP.output_delta`,
    each activation's ``backward``) but not the weight gradients ∂Ē/∂W^l that
    :meth:`MLP.backward` also forms: an attack needs none of them, and W⁰'s (n_1 × n_0 per step)
    is the largest product of the pass. :attr:`MLP.grads` is left untouched.
    ``reference=True`` calls :meth:`MLP.input_gradient` itself (same numbers, tested in float64;
    it overwrites :attr:`MLP.grads`). Both arrays are in the network's dtype.
    """
    x = np.asarray(x, dtype=network.dtype)
    if reference:
        grad, per_sample, _ = network.input_gradient(x, t, loss)
        return per_sample, grad
    fp = network.forward(x)  # evaluation mode: no dropout masks
    delta = network.output_delta(fp, t, loss)  # δ^{L−1}: (B, n_L)
    for l in reversed(range(1, network.n_layers)):
        # equation (1): δ^{l−1} = (δ^l W^l) ⊙ f′(z^{l−1}), as (W^l)ᵀ δ^l in the column form
        grad_y = (network.weights[l].T @ delta.T).T  # −∂E/∂y^l: (B, n_l)
        delta = network.activations[l - 1].backward(grad_y, fp.zs[l - 1], fp.ys[l])
    grad = -(network.weights[0].T @ delta.T).T  # ∂E/∂y⁰ = −δ⁰W⁰: (B, n_0)
    return loss.per_sample(fp.output, t), grad


def _row_lengths(a: np.ndarray) -> np.ndarray:
    """‖a_b‖₂ of each row (B,), summed in float64 (a float32 gradient of 1e-20 is not 0)."""
    return np.sqrt(np.einsum("bi,bi->b", a, a, dtype=np.float64))


def ascent_direction(grad: np.ndarray, norm: str) -> np.ndarray:
    """The unit step of steepest ascent for each row of ``grad`` (B, n_0) in ``norm``.

    L∞: sign(g) (every pixel moves by ±1, or 0 where g is 0); L2: g / ‖g‖₂ per row, and a row of
    zeros where g = 0 (no direction to climb).
    """
    if norm == "linf":
        return np.sign(grad)
    lengths = _row_lengths(grad)[:, np.newaxis]  # (B, 1)
    unit = np.divide(grad, lengths, out=np.zeros(grad.shape), where=lengths > _TINY)
    return unit.astype(grad.dtype, copy=False)


def project(x: np.ndarray, clean: np.ndarray, options: AttackOptions) -> np.ndarray:
    """Π(x): back into the ε-ball around ``clean`` (per row) and into the pixel box; a new array.

    L∞ clips each pixel's change to [−ε, ε]; L2 scales each row's change ``x − clean`` down to
    length ε where it is longer. The box clip then only moves pixels towards ``clean`` (which is
    assumed to lie in the box), so the result is in both sets.
    """
    eps = float(options.epsilon)
    change = np.asarray(x - clean)  # (B, n_0), a new array
    if options.norm == "linf":
        np.clip(change, -eps, eps, out=change)
    else:
        scale = np.minimum(1.0, eps / np.maximum(_row_lengths(change), _TINY))  # (B,)
        change *= scale.astype(change.dtype)[:, np.newaxis]
    projected = clean + change
    if options.clip is not None:
        np.clip(projected, options.clip[0], options.clip[1], out=projected)
    return projected


def random_perturbation(options: AttackOptions, shape: tuple[int, int],
                        rng: np.random.Generator, dtype=np.float64) -> np.ndarray:
    """A uniform random point of the ε-ball around 0 for each of ``shape[0]`` rows.

    L∞: each pixel uniform in [−ε, ε] (one draw of ``shape``). L2: a direction u = n / ‖n‖ with
    n standard normal (one draw of ``shape``), times a radius ε·U^{1/d} with U uniform in [0, 1)
    and d = ``shape[1]`` (one draw of ``shape[0]``): uniform in volume, not bunched at the
    centre. Drawn in float64, then cast to ``dtype``, so both dtypes see the same numbers.
    """
    batch, dim = shape
    eps = float(options.epsilon)
    if options.norm == "linf":
        return rng.uniform(-eps, eps, size=shape).astype(dtype)
    directions = rng.standard_normal(size=shape)
    lengths = np.sqrt(np.einsum("bi,bi->b", directions, directions))[:, np.newaxis]
    directions /= np.maximum(lengths, _TINY)
    radii = eps * rng.random(batch) ** (1.0 / max(dim, 1))
    return (directions * radii[:, np.newaxis]).astype(dtype)


# ---------------------------------------------------------------------------------- attacks
def pgd(network: MLP, x: np.ndarray, t: np.ndarray, loss: Loss, options: AttackOptions,
        rng: np.random.Generator | None = None, *,
        callback: Callable[[int, np.ndarray], None] | None = None,
        gradient: Gradient | None = None) -> np.ndarray:
    """Projected gradient ascent on E within the ε-ball: the adversarial examples (B, n_0).

    ``x`` (B, n_0) are the clean inputs (in the pixel box), ``t`` (B, n_L) their targets as
    ``loss`` expects them (the targets the network trains on). Starting from x, or with
    ``options.random_start`` from Π(x + u) with u uniform in the ball, each of ``options.steps``
    steps computes g = ∂E/∂y⁰ (:func:`input_gradient`) and moves to

        x ← Π(x + α sign(g))  (L∞)    or    x ← Π(x + α g/‖g‖₂)  (L2),

    α = ``options.alpha``. Returns the last iterate, in the network's dtype. The only random
    numbers are those of the start, drawn from ``rng`` (needed then): one draw of (B, n_0) for
    L∞, (B, n_0) then (B,) for L2; the same generator state gives the same examples.
    ``callback(k, x_k)``, if given, sees the start (k = 0) and every iterate k = 1 … steps.
    ``gradient(x, t) -> (E, g)`` computes g (default :func:`input_gradient`; a training engine
    passes its own fast path, :meth:`digitlab.nn.engines.Engine.input_gradient`).
    """
    clean = np.asarray(x, dtype=network.dtype)  # (B, n_0)
    t = np.asarray(t, dtype=network.dtype)  # (B, n_L)
    if options.random_start:
        if rng is None:
            raise ConfigError("attack option random_start needs a random generator (rng)")
        start = random_perturbation(options, clean.shape, rng, network.dtype)
        adversarial = project(clean + start, clean, options)
    else:
        adversarial = clean.copy()
    if callback is not None:
        callback(0, adversarial)
    alpha = options.alpha
    for k in range(1, options.steps + 1):
        if gradient is None:
            _, grad = input_gradient(network, adversarial, t, loss)  # (B, n_0)
        else:
            _, grad = gradient(adversarial, t)
        step = alpha * ascent_direction(grad, options.norm)
        adversarial = project(adversarial + step.astype(network.dtype, copy=False), clean,
                              options)
        if callback is not None:
            callback(k, adversarial)
    return adversarial


def fgsm(network: MLP, x: np.ndarray, t: np.ndarray, loss: Loss, epsilon: float,
         clip: tuple[float, float] | None = (0.0, 1.0)) -> np.ndarray:
    """The fast gradient sign method, x + ε sign(∂E/∂y⁰) in the box: :func:`pgd` with
    :meth:`AttackOptions.fgsm` (deterministic, no random numbers)."""
    return pgd(network, x, t, loss, AttackOptions.fgsm(epsilon, clip))


def adversarial_count(batch: int, mix: float) -> int:
    """How many of ``batch`` samples :func:`adversarial_batch` replaces: ⌊mix·B + ½⌋."""
    return min(batch, int(math.floor(mix * batch + 0.5)))


def adversarial_batch(network: MLP, x: np.ndarray, t: np.ndarray, loss: Loss,
                      options: AttackOptions, rng: np.random.Generator | None,
                      mix: float = 0.5, *, gradient: Gradient | None = None) -> np.ndarray:
    """The inputs to train on (B, n_0): the first n = ⌊mix·B + ½⌋ rows of ``x`` replaced by
    their :func:`pgd` examples, the other B − n rows clean.

    The targets stay ``t`` row for row (an example keeps its digit's label), so the training
    step uses the same ``t`` with the returned batch. mix = 1 gives adversarial examples
    alone, mix = 0 a clean copy (and no attack). Which rows are replaced depends only on B and
    mix, never on random numbers; the minibatch order is already shuffled, so the first rows are
    a random subset. Only the n attacked rows draw from ``rng`` (see :func:`pgd`). A new array in
    the network's dtype; ``x`` is not modified.
    """
    if not _is_finite_number(mix) or not 0.0 <= mix <= 1.0:
        raise ConfigError(f"attack option mix must be in [0, 1], got {mix!r}")
    batch = np.array(x, dtype=network.dtype)  # a copy
    n = adversarial_count(len(batch), float(mix))
    if n:
        batch[:n] = pgd(network, batch[:n], np.asarray(t)[:n], loss, options, rng,
                        gradient=gradient)
    return batch
