"""Training engines: how one step of training is computed, and which engine a config gets.

Both engines compute the same maths, a forward pass, equations (1)–(2) and the optimizer's step;
tests hold them equal over several training steps.

- ``"reference"`` (:class:`ReferenceEngine`): :meth:`MLP.forward`, :meth:`MLP.backward` (the
  gradient ∂Ē/∂θ of the whole network), then ``optimizer.step``: the equations as written, one
  after the other, for reading and stepping through.
- ``"fused"`` (:class:`~digitlab.nn.fused.FusedEngine`, the default): the same steps reordered
  for the cache and spread over the cores (see :mod:`digitlab.nn.fused`), run by compiled
  kernels (:mod:`digitlab.nn.compiled`, Numba) where they can be, else by NumPy's.

Both implement one protocol, :class:`Engine`. Each backend declares what it implements
(``supports(config, per_sample)``: None, or why not); :func:`for_config` reads those
declarations and makes the choice in one place, with the reason, as an :class:`EngineChoice`.

The choice's line (``str(choice)``) is English; its reason and parts are
:class:`~digitlab.errors.Message` templates, so the command line says it in the reader's
language (:meth:`EngineChoice.translated`, the ``errors`` catalog).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

import numpy as np
from threadpoolctl import threadpool_info

from digitlab.choices import ENGINE_NAMES as ENGINES
from digitlab.errors import ConfigError, Message
from digitlab.nn import adversarial
from digitlab.nn.fused import KERNELS, FusedEngine, register_kernels
from digitlab.nn.losses import Loss
from digitlab.nn.network import MLP, ForwardPass
from digitlab.nn.optimizers import SGD, Optimizer, make_optimizer
from digitlab.nn.parallel import available_cores

if TYPE_CHECKING:
    from digitlab.config import TrainConfig

__all__ = ["ENGINES", "Engine", "EngineChoice", "ReferenceEngine", "for_config", "make_engine"]


class Engine(Protocol):
    """One training step, as the training loop calls it.

    A step is :meth:`forward` then :meth:`update`; an engine that declares
    :attr:`trains_samples` also trains a run of per-sample SGD steps in one call,
    :meth:`sgd_samples` (the loop then takes that instead, a run at a time).
    """

    name: str
    #: :meth:`sgd_samples` trains many per-sample steps in one call
    trains_samples: bool

    def prepare(self, network: MLP) -> None:
        """Before the first step of training ``network`` (e.g. compile the kernels)."""

    def forward(self, network: MLP, x: np.ndarray,
                masks: list[np.ndarray | None] | None = None) -> ForwardPass:
        """The forward pass of ``x`` (B, n_0): ys[l] (B, n_l), zs[l] (B, n_{l+1}); dropout
        ``masks`` (B, n_l) per hidden layer, when given."""

    def update(self, network: MLP, fp: ForwardPass, t: np.ndarray, loss: Loss,
               optimizer: Optimizer, lr: float) -> None:
        """Equation (1) for the deltas of ``fp`` against the targets ``t`` (B, n_L), equation
        (2) (or the optimizer's step) with rate ``lr``, in place on ``network.params``."""

    def sgd_samples(self, network: MLP, images: np.ndarray, targets: np.ndarray,
                    order: np.ndarray, rates, loss: Loss) -> tuple[int, np.ndarray, np.ndarray]:
        """Per-sample SGD on ``images[order]`` ((N, n_0), targets (N, n_L)), one rate per
        sample: ``(done, losses, predicted)`` (see :meth:`FusedEngine.sgd_samples`)."""

    def input_gradient(self, network: MLP, x: np.ndarray, t: np.ndarray,
                       loss: Loss) -> tuple[np.ndarray, np.ndarray]:
        """``(E (B,), ∂E/∂y⁰ (B, n_0))`` without dropout: the gradient an adversarial attack
        climbs (:mod:`digitlab.nn.adversarial`)."""


class ReferenceEngine:
    """Training steps straight from the equations: forward, backward, optimizer step."""

    name = "reference"
    trains_samples = False

    @staticmethod
    def supports(config: TrainConfig, per_sample: bool) -> str | None:
        """Every config: the reference engine is what the others are checked against."""
        return None

    def prepare(self, network: MLP) -> None:
        """Nothing to prepare."""

    def forward(self, network: MLP, x: np.ndarray,
                masks: list[np.ndarray | None] | None = None) -> ForwardPass:
        return network.forward(x, masks)

    def update(self, network: MLP, fp: ForwardPass, t: np.ndarray, loss: Loss,
               optimizer: Optimizer, lr: float) -> None:
        network.backward(fp, t, loss)  # equations (1)–(2): ∂Ē/∂θ into network.grads
        optimizer.step(network.params, network.grads, lr)

    def input_gradient(self, network: MLP, x: np.ndarray, t: np.ndarray,
                       loss: Loss) -> tuple[np.ndarray, np.ndarray]:
        return adversarial.input_gradient(network, x, t, loss)

    def sgd_samples(self, network, images, targets, order, rates, loss):
        raise NotImplementedError("the reference engine has no per-sample loop "
                                  "(trains_samples is False)")


def is_per_sample_sgd(batch_size: int, optimizer: Optimizer) -> bool:
    """The assignment's update: one sample at a time, SGD without momentum or weight decay."""
    return (batch_size == 1 and isinstance(optimizer, SGD) and optimizer.momentum == 0
            and optimizer.weight_decay == 0)


def make_engine(name: str, *, batch_size: int, optimizer: Optimizer, threads: int = 1,
                kernels: str = "numpy") -> Engine:
    """The engine called ``name`` for training with this batch size and optimizer; a fused
    engine runs on ``kernels`` (a name in :data:`digitlab.nn.fused.KERNELS`)."""
    if name == "reference":
        return ReferenceEngine()
    if name == "fused":
        return FusedEngine(threads=threads, kernels=kernels,
                           per_sample_sgd=is_per_sample_sgd(batch_size, optimizer))
    raise ConfigError(f"engine must be one of {', '.join(ENGINES)}; got {name!r}")


def training_threads(config: TrainConfig, per_sample_compiled: bool = False) -> int:
    """Cores one training step may use: those BLAS may use here, one for per-sample steps.

    Inside a parallel study's worker BLAS is pinned to one thread, and so is training. A
    per-sample step (batch size 1) in NumPy is too small to split; it runs on one core. The
    compiled per-sample loop splits its rows over the cores (when that is faster).
    """
    if config.batch_size < 8 and not per_sample_compiled:
        return 1
    blas = max((pool["num_threads"] for pool in threadpool_info()
                if pool.get("user_api") == "blas"), default=1)  # not OpenMP's (Numba's loops)
    return max(1, min(blas, available_cores()))


# ---------------------------------------------------------------------- the choice
@dataclass(frozen=True)
class EngineChoice:
    """The engine a config trains with, and why (see :func:`for_config`)."""

    engine: Engine
    #: the fused engine's kernels (``"numba"``, ``"numpy"``); None for the reference engine
    kernels: str | None
    #: cores a step may use
    threads: int
    #: whether the config is per-sample SGD (batch size 1, SGD without momentum or decay)
    per_sample: bool
    #: whether training takes the engine's per-sample loop (:meth:`Engine.sgd_samples`)
    per_sample_loop: bool
    #: why, in a few words: "batch size 1, plain SGD → compiled per-sample SGD loop" (a
    #: :class:`~digitlab.errors.Message`: English, and translatable where it is shown)
    reason: str

    def line(self) -> Message:
        """One line: the engine, its kernels, its steps, its threads, and the reason, as an
        English :class:`~digitlab.errors.Message` that the command line translates."""
        cores = Message.counted("{n} thread", "{n} threads", self.threads, n=self.threads)
        if self.kernels is None:
            return Message("{engine} engine, {cores} ({reason})", engine=self.engine.name,
                           cores=cores, reason=self.reason)
        steps = (Message("per-sample SGD loop") if self.per_sample_loop else
                 Message("per-sample steps") if self.per_sample else Message("minibatch steps"))
        return Message("{engine} engine on {kernels} kernels, {steps}, {cores} ({reason})",
                       engine=self.engine.name, kernels=self.kernels, steps=steps, cores=cores,
                       reason=self.reason)

    def translated(self, lang: str | None = None) -> str:
        """:meth:`line` in ``lang`` (None: the active language); ``str(choice)`` is English."""
        return self.line().translated(lang)

    def __str__(self) -> str:
        """:meth:`line` in English: "fused engine on numba kernels, per-sample SGD loop,
        2 threads (batch size 1, plain SGD → compiled per-sample SGD loop)"."""
        return str(self.line())


def for_config(config: TrainConfig, optimizer: Optimizer | None = None) -> EngineChoice:
    """The engine that trains ``config`` (with ``optimizer``, by default the config's), chosen
    from what each backend declares it implements.

    ``engine = "reference"`` gets the reference engine. ``"fused"`` gets the compiled kernels
    when they implement the config (:func:`digitlab.nn.compiled.support.supports`; for
    per-sample SGD, in their per-sample loop) and Numba loads, else the NumPy kernels, which
    implement every config. Compiled per-sample SGD takes the per-sample loop.
    """
    if optimizer is None:
        optimizer = make_optimizer(config.optimizer, config.lr, momentum=config.momentum,
                                   nesterov=config.nesterov, weight_decay=config.weight_decay)
    per_sample = is_per_sample_sgd(config.batch_size, optimizer)
    if config.engine == "reference":
        engine = make_engine("reference", batch_size=config.batch_size, optimizer=optimizer)
        return EngineChoice(engine, None, 1, per_sample, False,
                            Message("engine = reference (config)"))
    kernels, reason = _fused_kernels(config, per_sample)
    per_sample_compiled = per_sample and KERNELS[kernels].per_sample_loop
    threads = training_threads(config, per_sample_compiled)
    engine = make_engine(config.engine, batch_size=config.batch_size, optimizer=optimizer,
                         threads=threads, kernels=kernels)
    return EngineChoice(engine, kernels, threads, per_sample, engine.trains_samples, reason)


def _fused_kernels(config: TrainConfig, per_sample: bool) -> tuple[str, Message]:
    """The fused engine's kernels for ``config`` and the reason: ``"numba"`` when the compiled
    kernels declare they implement it and Numba can be imported, else ``"numpy"``."""
    from digitlab.nn import compiled
    from digitlab.nn.compiled import support

    missing = support.supports(config, per_sample)
    if missing is not None:
        return "numpy", Message("{why} → NumPy kernels", why=missing)
    loaded = compiled.load()  # imports Numba, once; says in one line why not when it cannot
    if loaded is None:
        why = compiled.unavailable_reason or Message("the compiled kernels cannot be loaded")
        return "numpy", Message("{why} → NumPy kernels", why=why)
    if "numba" not in KERNELS:
        register_kernels("numba", loaded.NumbaKernels())
    if per_sample:
        return "numba", Message("batch size 1, plain SGD → compiled per-sample SGD loop")
    extras = sorted(name for name in support.fields_set(config) if name in support.MINIBATCH_FIELDS)
    return "numba", Message("batch size {batch_size}, {optimizer}{fields} → compiled minibatch "
                            "steps", batch_size=config.batch_size, optimizer=config.optimizer,
                            fields="".join(f", {name}" for name in extras))
