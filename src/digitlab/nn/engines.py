"""Training engines: how one step of training is computed.

Both engines compute the same maths, a forward pass, equations (1)–(2) and the optimizer's step;
tests hold them equal over several training steps.

- ``"reference"`` (:class:`ReferenceEngine`): :meth:`MLP.forward`, :meth:`MLP.backward` (the
  gradient ∂Ē/∂θ of the whole network), then ``optimizer.step``: the equations as written, one
  after the other, for reading and stepping through.
- ``"fused"`` (:class:`~digitlab.nn.fused.FusedEngine`, the default): the same steps reordered
  for the cache and spread over the cores (see :mod:`digitlab.nn.fused`), run by compiled
  kernels (:mod:`digitlab.nn.compiled`, Numba) where they can be, else by NumPy's.
"""

from __future__ import annotations

import numpy as np

from digitlab.errors import ConfigError
from digitlab.nn.fused import KERNELS, FusedEngine, register_kernels
from digitlab.nn.losses import Loss
from digitlab.nn.network import MLP, ForwardPass
from digitlab.nn.optimizers import SGD, Optimizer

ENGINES = ("reference", "fused")


class ReferenceEngine:
    """Training steps straight from the equations: forward, backward, optimizer step."""

    name = "reference"

    def forward(self, network: MLP, x: np.ndarray,
                masks: list[np.ndarray | None] | None = None) -> ForwardPass:
        return network.forward(x, masks)

    def update(self, network: MLP, fp: ForwardPass, t: np.ndarray, loss: Loss,
               optimizer: Optimizer, lr: float) -> None:
        network.backward(fp, t, loss)  # equations (1)–(2): ∂Ē/∂θ into network.grads
        optimizer.step(network.params, network.grads, lr)


def is_per_sample_sgd(batch_size: int, optimizer: Optimizer) -> bool:
    """The assignment's update: one sample at a time, SGD without momentum or weight decay."""
    return (batch_size == 1 and isinstance(optimizer, SGD) and optimizer.momentum == 0
            and optimizer.weight_decay == 0)


def fused_kernels(compiled: bool = True) -> str:
    """The kernels the fused engine runs on: ``"numba"`` when ``compiled`` and Numba can be
    imported (else :func:`digitlab.nn.compiled.load` says in one line why not), else
    ``"numpy"``."""
    if compiled:
        from digitlab.nn import compiled as compiled_kernels

        kernels = compiled_kernels.load()
        if kernels is not None:
            if "numba" not in KERNELS:
                register_kernels("numba", kernels.NumbaKernels())
            return "numba"
    return "numpy"


def make_engine(name: str, *, batch_size: int, optimizer: Optimizer, threads: int = 1,
                kernels: str = "numpy"):
    """The engine called ``name`` for training with this batch size and optimizer; a fused
    engine runs on ``kernels`` (see :func:`fused_kernels`)."""
    if name == "reference":
        return ReferenceEngine()
    if name == "fused":
        return FusedEngine(threads=threads, kernels=kernels,
                           per_sample_sgd=is_per_sample_sgd(batch_size, optimizer))
    raise ConfigError(f"engine must be one of {', '.join(ENGINES)}; got {name!r}")
