"""What a training step adds for a network that knows what it doesn't know.

Two options of :class:`~digitlab.config.TrainConfig` change the batch a step trains on, and
nothing else: the forward pass, equation (1) and the optimizer's step stay those of every other
batch, on whichever engine the config runs (:func:`digitlab.nn.engines.for_config`).

- **Adversarial training** (``attack``): the first ⌊mix·B + ½⌋ digits of each batch of B are
  replaced by their adversarial examples (:func:`digitlab.nn.adversarial.adversarial_batch`):
  equation (3) turned against the network, the input walked up E within an ε-ball. The
  targets stay the digits' own.
- **Outlier exposure** (``outlier_exposure`` = λ): m = ⌊λ·B + ½⌋ images that are not digits
  (:class:`digitlab.data.outliers.OutlierSource`) are appended after the B digits, with the
  uniform distribution u = (1/K, …, 1/K) as target. Cross-entropy against u *is* the outlier
  loss, L_OE = −(1/K) Σ_k log p_k (:mod:`digitlab.nn.outlier_loss`), so every engine trains
  it with no code of its own. The step's mean over B + m rows is
  (B / (B + m)) · (L_digits + λ · L_OE): λ weighs the outliers against the digits, as in
  Hendrycks et al. (2019).
- **Outlier mining** (``outlier_mining`` = s, with outlier exposure): an epoch's D outliers
  are drawn from the D images the network is surest are digits among ⌈D / s⌉ drawn at random
  from the pool, which then holds at least twice as many (:func:`mine_outliers`), scored by
  its top probability at the start of the epoch (informative outlier mining, Chen et al.
  2021). Most pool images soon get an answer close to uniform and teach little; the ones
  still read as digits are the boundary the network has yet to learn (the letters a person
  draws lie near it).

The digits stay the first B rows, so E and accuracy are measured on them alone. Random numbers
come from streams of their own per epoch (the random start of each attack; which outliers are
drawn, and which are mined), derived from (seed, epoch) like the sample order, and mining scores
the pool with the network as the epoch starts (as a checkpoint holds it), so a resumed run
continues exactly.
"""

from __future__ import annotations

import math

import numpy as np

from digitlab.config import TrainConfig
from digitlab.data.outliers import (
    BATCH_STREAM,
    DEFAULT_POOL_SIZE,
    OutlierSource,
    uniform_targets,
)
from digitlab.nn.adversarial import AttackOptions, adversarial_batch
from digitlab.nn.engines import Engine
from digitlab.nn.losses import Loss
from digitlab.nn.network import MLP

#: the random stream of the attacks' random starts (the training streams are 1–4)
ATTACK_STREAM = 5
#: the random stream of the pool images an epoch's outlier mining scores
MINING_STREAM = 18
#: with outlier mining the pool holds at least this many times the D / s images an epoch
#: scores, so that each epoch scores a fresh random part of it (the embedded sample with the
#: honest preset: 17,152 images, 8,576 scored and 4,288 kept per epoch)
MINING_POOL_FACTOR = 2
#: the fewest outliers a pool holds (a run on fewer training digits still sees every kind often)
SMALLEST_POOL = 1000
#: ``attack`` -> the norm of its ball
ATTACK_NORMS = {"pgd-l2": "l2", "pgd-linf": "linf", "fgsm": "linf"}


def attack_options(config: TrainConfig) -> AttackOptions | None:
    """The attack a config trains against, or None without one.

    ``fgsm`` is one signed step of length ε from the digit itself; ``pgd-*`` take
    ``attack_steps`` steps of ``attack_step_size`` (0: 2.5 ε / steps), from a random point of
    the ball when ``attack_random_start``.
    """
    if config.attack == "none":
        return None
    epsilon = config.attack_radius
    if config.attack == "fgsm":
        return AttackOptions.fgsm(epsilon)
    return AttackOptions(norm=ATTACK_NORMS[config.attack], epsilon=epsilon,
                         steps=config.attack_steps,
                         step_size=config.attack_step_size or None,
                         random_start=config.attack_random_start)


def outlier_count(batch: int, weight: float) -> int:
    """The outliers m = ⌊λ·B + ½⌋ appended to a batch of B digits."""
    return int(math.floor(weight * batch + 0.5))


def mine_outliers(network: MLP, pool: np.ndarray, count: int, share: float,
                  rng: np.random.Generator, batch_size: int = 2048) -> np.ndarray:
    """Indices (≤ count,) into ``pool`` (P, n_0) of the outliers an epoch draws from: among
    C = min(P, ⌈count / share⌉) pool images taken at random without replacement, the
    ``count`` whose top probability max_k p_k (the network's own, no dropout) is highest,
    ties in the order drawn."""
    candidates = rng.choice(len(pool), size=min(len(pool), math.ceil(count / share)),
                            replace=False)
    top = np.asarray(network.probabilities(pool[candidates].astype(network.dtype, copy=False),
                                           batch_size)).max(axis=1)
    return candidates[np.argsort(-top, kind="stable")[:count]]


class RobustBatches:
    """The batches a config with ``attack`` or ``outlier_exposure`` trains on.

    Built once per run from the training digits (N, 784) (the outlier pool's pieces and
    overlays are cut from them, never from held-out digits); :meth:`begin_epoch` derives the
    epoch's streams; :meth:`batch` turns the step's digits and targets into what it trains on.
    """

    def __init__(self, config: TrainConfig, digits: np.ndarray):
        self.config = config
        self.attack = attack_options(config)
        #: the outliers an epoch appends, D = steps × m (what outlier mining keeps)
        self.epoch_outliers = math.ceil(len(digits) / config.batch_size) * outlier_count(
            config.batch_size, config.outlier_exposure)
        self.outliers = None
        if config.outlier_exposure:
            pool = min(DEFAULT_POOL_SIZE, max(SMALLEST_POOL, len(digits)))
            if config.outlier_mining:  # each epoch scores a fresh part of the pool
                pool = max(pool, MINING_POOL_FACTOR * math.ceil(
                    self.epoch_outliers / config.outlier_mining))
            self.outliers = OutlierSource(digits, config.seed, pool_size=pool)
        self._attack_rng: np.random.Generator | None = None
        self._outlier_rng: np.random.Generator | None = None
        #: the pool rows this epoch's outliers are drawn from (None: the whole pool)
        self.mined: np.ndarray | None = None

    @property
    def enabled(self) -> bool:
        return self.attack is not None or self.outliers is not None

    def begin_epoch(self, epoch: int, network: MLP | None = None) -> None:
        """The random streams of ``epoch`` (0-based), from (seed, stream, epoch) alone, and,
        with outlier mining, the pool rows the epoch draws its outliers from, as ``network``
        (needed then) reads them now."""
        seed = self.config.seed
        self._attack_rng = np.random.default_rng([seed, ATTACK_STREAM, epoch])
        self._outlier_rng = np.random.default_rng([seed, BATCH_STREAM, epoch])
        self.mined = None
        if self.outliers is not None and self.config.outlier_mining and self.epoch_outliers:
            if network is None:
                raise ValueError("outlier mining needs the network at the start of each epoch")
            self.mined = mine_outliers(network, self.outliers.pool, self.epoch_outliers,
                                       self.config.outlier_mining,
                                       np.random.default_rng([seed, MINING_STREAM, epoch]))

    def batch(self, network: MLP, x: np.ndarray, t: np.ndarray, loss: Loss,
              engine: Engine | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(x′ (B + m, n_0), t′ (B + m, K)) for the digits x (B, n_0) and their targets t:
        the first rows attacked (with an attack), then m outliers with uniform targets (with
        outlier exposure). The first B rows are always the digits'. The attack's gradients
        come from ``engine`` (its fast path; the reference equations without one)."""
        if self._attack_rng is None:
            raise RuntimeError("begin_epoch must be called before the epoch's batches")
        if self.attack is not None:
            gradient = None if engine is None else (
                lambda x, t: engine.input_gradient(network, x, t, loss))
            x = adversarial_batch(network, x, t, loss, self.attack, self._attack_rng,
                                  mix=self.config.attack_mix, gradient=gradient)
        if self.outliers is not None:
            m = outlier_count(len(x), self.config.outlier_exposure)
            if m:
                outliers = self.outliers.batch(m, self._outlier_rng, dtype=network.dtype,
                                               rows=self.mined)
                x = np.concatenate([np.asarray(x, dtype=network.dtype), outliers])
                t = np.concatenate([t, uniform_targets(m, t.shape[1], t.dtype)])
        return x, t
