"""The fused engine: the same maths as `MLP.backward` + the optimizer, reordered for the cache.

:mod:`digitlab.nn.network` states the equations once: a forward pass, equation (1) for the deltas
and the gradient ∂Ē/∂θ, then an optimizer step over the whole vector. The functions here compute
the same numbers (up to rounding; tests compare them over several training steps) in an order
that touches each weight as few times as possible:

- :func:`forward` — the forward pass with the output units of each wide layer split over cores;
- :func:`sgd_step` — per-sample SGD: equation (2) as one in-place BLAS rank-1 update per layer
  (:mod:`digitlab.nn.blas`), no gradient buffer;
- :func:`backward_update` — any optimizer, any batch: each weight matrix visited
  :data:`ROW_BLOCK` rows at a time, the rows' gradient handed to the optimizer while still in
  cache, the blocks of a layer split over cores (:mod:`digitlab.nn.parallel`).

:class:`FusedEngine` is the training loop's entry point. It calls its kernels through one
dispatch point, :data:`KERNELS`: ``"numpy"`` is this module's; a compiled backend (e.g. Numba)
registers an object that implements the :class:`Kernels` protocol (the same three functions,
and the declarations of what it offers) via :func:`register_kernels` and is chosen by name,
``FusedEngine(kernels="numba")``.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Protocol

import numpy as np
from threadpoolctl import threadpool_limits

from digitlab.errors import ConfigError
from digitlab.nn.activations import Activation
from digitlab.nn.blas import blas_add_outer
from digitlab.nn.losses import Loss
from digitlab.nn.network import MLP, ForwardPass, drop_out
from digitlab.nn.optimizers import Optimizer
from digitlab.nn.parallel import available_cores, in_parts

if TYPE_CHECKING:
    from digitlab.config import TrainConfig

#: rows of a weight matrix whose gradient is computed and handed to the optimizer at once
ROW_BLOCK = 256


class Pointwise:
    """The elementwise parts of a step: y = f(z) and ∂E/∂z = ∂E/∂y ⊙ f′(z), here as each
    :class:`~digitlab.nn.activations.Activation` computes them in NumPy; a compiled backend
    passes its own (same formulas, one pass each)."""

    def forward(self, activation: Activation, z: np.ndarray) -> np.ndarray:
        return activation.forward(z)

    def backward(self, activation: Activation, grad_y: np.ndarray, z: np.ndarray,
                 y: np.ndarray) -> np.ndarray:
        return activation.backward(grad_y, z, y)

    def forward_into(self, activation: Activation, z: np.ndarray, y: np.ndarray) -> bool:
        """y = f(z) into ``y`` for part of a layer, on the thread that computed that part of z;
        False (nothing done) when this activation must see the whole layer at once (NumPy's
        passes measured no faster split over threads)."""
        return False


NUMPY_POINTWISE = Pointwise()

_blas_prepared = False
_scratch = threading.local()


def scratch(name: str, shape: tuple[int, ...], dtype) -> np.ndarray:
    """A work array of this thread, kept from call to call under ``name`` (contents undefined).

    A step's gradient block and shares are 0.5–1 MB each; allocated afresh every step, they
    came from new pages each time (the kernel's page clearing alone was 4.6 % of a training
    profile of the ``report`` preset).
    """
    arrays = _scratch.__dict__.setdefault("arrays", {})
    key = (name, shape, np.dtype(dtype))
    if key not in arrays:
        arrays[key] = np.empty(shape, dtype=dtype)
    return arrays[key]


def prepare_blas() -> None:
    """Products of a (32, 1024) matrix by a (1024, 1024) one's transpose, once per process, on
    every core at once.

    Measured with NumPy 2.4's OpenBLAS 0.3.31 (its Haswell kernels, on an AVX2 CPU): a
    column-form product of a step, W (1024, 1024) @ y (1024, 32), ran at 1.7× its time (3.8 ms
    against 2.2 ms on one thread) until a product with a wide right operand such as this one
    had run on the same OpenBLAS work buffer. A profile shows the same routines in both cases,
    the compute kernel itself slower. Each of the calls running at the same moment takes a
    buffer of its own, so the product runs on all the cores together (a barrier makes them
    overlap): without that, the second thread's half of each product stayed 1.8× slower than
    the first's. The cause is inside OpenBLAS; these products, about 2 ms, are the cure.
    """
    global _blas_prepared
    if _blas_prepared:
        return
    _blas_prepared = True
    cores = available_cores()
    together = threading.Barrier(cores)
    left, right = np.ones((32, 1024), dtype=np.float32), np.ones((1024, 1024), dtype=np.float32)

    def product():
        try:
            together.wait(timeout=5)
        except threading.BrokenBarrierError:  # pragma: no cover - a thread failed to start
            pass
        left @ right.T

    with threadpool_limits(limits=1):
        others = [threading.Thread(target=product) for _ in range(cores - 1)]
        for thread in others:
            thread.start()
        product()
        for thread in others:
            thread.join()


def forward(network: MLP, x: np.ndarray, threads: int = 1,
            masks: list[np.ndarray | None] | None = None,
            pointwise: Pointwise = NUMPY_POINTWISE) -> ForwardPass:
    """:meth:`MLP.forward` with the output units of each wide layer split over ``threads`` cores.

    Each part computes z^l = W^l y^l + b^l for its units in the column form, (units, n_l) @
    (n_l, B); the result is the same as :meth:`MLP.forward`'s (dropout ``masks`` included).
    ``pointwise`` computes the activations.
    """
    ys, zs, undropped = [np.asarray(x, dtype=network.dtype)], [], []
    for l, (W, b, f) in enumerate(zip(network.weights, network.biases, network.activations,
                                      strict=True)):
        # (n_l, B), made contiguous: two threads multiplying by the transposed view at once ran
        # at 1.5x the time of one (measured, 1024x1024 at B = 32), by a copy at half of it
        y_columns = np.ascontiguousarray(ys[-1].T)
        z_columns = np.empty((W.shape[0], y_columns.shape[1]), dtype=network.dtype)
        out_columns = np.empty_like(z_columns)  # f(z), when the parts compute it
        activated = []

        def units(lo, hi, y_columns=y_columns, W=W, b=b, z_columns=z_columns, f=f,
                  out_columns=out_columns, activated=activated):
            # z = W y + b for output units lo..hi: (hi − lo, n_l) @ (n_l, B)
            np.matmul(W[lo:hi], y_columns, out=z_columns[lo:hi])
            if b is not None:
                z_columns[lo:hi] += b[lo:hi, np.newaxis]
            activated.append(pointwise.forward_into(f, z_columns[lo:hi], out_columns[lo:hi]))

        in_parts(units, W.shape[0], threads if W.shape[0] >= 256 else 1, align=64)
        zs.append(z_columns.T)
        ys.append(out_columns.T if all(activated) else pointwise.forward(f, zs[-1]))
        drop_out(ys, undropped, masks, l)
    return ForwardPass(ys, zs) if masks is None else ForwardPass(ys, zs, masks, undropped)


def sgd_step(network: MLP, fp: ForwardPass, t: np.ndarray, loss: Loss, lr: float) -> None:
    """Plain SGD straight from equations (1)–(2), without storing the gradient.

    The same maths as :meth:`MLP.backward` + :class:`~digitlab.nn.optimizers.SGD` (no momentum,
    no weight decay), reordered for the cache: for each layer, from the output down,
    δ^{l−1} = (δ^l W^l) ⊙ f′(z^{l−1}) is computed with the *old* W^l, then
    W^l ← W^l + (η/B) Σ_b δ^l_b (y^l_b)ᵀ is applied in place. With B = 1 this is the
    assignment's per-sample update, one BLAS rank-1 update (``ger``) per layer: W is read and
    written once, instead of writing a gradient and reading it back. Larger batches use the same
    in-place BLAS product (``gemm`` with β = 1).
    """
    ys, zs = fp.ys, fp.zs
    batch = ys[0].shape[0]
    delta = network.output_delta(fp, t, loss)  # δ^{L−1}: (B, n_L)
    scale = lr / batch
    for l in reversed(range(network.n_layers)):
        below = None
        if l > 0:  # equation (1), before W^l changes
            grad_y = fp.hidden_gradient(l - 1, delta @ network.weights[l])  # (⊙ m: dropout)
            below = network.activations[l - 1].backward(grad_y, zs[l - 1], fp.activated(l - 1))
        # equation (2): W^l ← W^l + (η/B) δ^lᵀ y^l, in place
        blas_add_outer(network.weights[l], delta, ys[l], scale)
        if network.has_bias:
            network.biases[l] += scale * delta.sum(axis=0)
        delta = below


def backward_update(
    network: MLP, fp: ForwardPass, t: np.ndarray, loss: Loss, optimizer: Optimizer,
    lr: float | None, threads: int = 1, row_block: int | None = None,
    pointwise: Pointwise = NUMPY_POINTWISE,
) -> None:
    """Backpropagation fused with the optimizer's step (any optimizer, any batch size).

    The same maths as :meth:`MLP.backward` + ``optimizer.step``, reordered for the cache: each
    weight matrix is visited ``row_block`` (default :data:`ROW_BLOCK`) rows at a time, and for
    each block, while its rows are in the CPU cache:

    1. its share of equation (1), δ^l[:, rows] W^l[rows], is computed with the old weights
       (δ^l W^l is the sum of the shares, added in block order);
    2. its gradient rows ∂Ē/∂W^l[rows] = −(1/B) δ^l[:, rows]ᵀ y^l are computed and handed to
       the optimizer at once, which updates those rows in place.

    No gradient for the whole network is written out and read back. The products use the column
    form (one column per sample). The blocks of each layer are split over ``threads`` cores; the
    result does not depend on how many. ``pointwise`` computes f′.
    """
    row_block = ROW_BLOCK if row_block is None else row_block
    ys, zs = fp.ys, fp.zs
    batch = ys[0].shape[0]
    dtype, params = network.dtype, network.params
    optimizer.begin_step(params, lr)
    delta = network.output_delta(fp, t, loss)  # δ^{L−1}: (B, n_L)
    for l in reversed(range(network.n_layers)):
        W, y, start = network.weights[l], ys[l], network.offsets[l]
        n_out, n_in = W.shape
        delta_columns = np.ascontiguousarray(delta.T)  # (n_{l+1}, B), contiguous as in forward
        scaled_columns = delta_columns * (-1.0 / batch)  # −δ^l / B
        n_blocks = -(-n_out // row_block)
        # δ^l W^l in column form, (W^l)ᵀ δ^l, one share per block: (blocks, n_l, B)
        shares = scratch("shares", (n_blocks, n_in, batch), dtype) if l > 0 else None

        # ∂Ē/∂b^l = −(1/B) Σ_b δ^l_b: (n_{l+1},), as one BLAS product of the columns by ones
        # (NumPy's sum along their rows of 32 took 50 µs against 10 µs for 1024 units)
        bias_grad = (scaled_columns @ np.ones(batch, dtype=dtype)) if network.has_bias else None

        def blocks(lo, hi, W=W, n_in=n_in, y=y, start=start, delta_columns=delta_columns,
                   scaled_columns=scaled_columns, shares=shares, bias_grad=bias_grad):
            grad = scratch("gradient", (row_block, n_in), dtype)
            for r in range(lo, hi, row_block):
                end = min(r + row_block, hi)
                if shares is not None:  # (n_l, rows) @ (rows, B), before the rows change
                    np.matmul(W[r:end].T, delta_columns[r:end], out=shares[r // row_block])
                # ∂Ē/∂W^l rows r..end: (rows, B) @ (B, n_l)
                np.matmul(scaled_columns[r:end], y, out=grad[: end - r])
                optimizer.update(params, grad[: end - r].reshape(-1), start + r * n_in)
                if bias_grad is not None:  # the biases of the same units
                    optimizer.update(params, bias_grad[r:end], start + W.size + r)

        in_parts(blocks, n_out, threads if n_out >= 2 * row_block else 1, align=row_block)
        if shares is not None:  # equation (1): δ^{l−1} = (δ^l W^l) ⊙ f′(z^{l−1})
            grad_y = fp.hidden_gradient(l - 1, shares.sum(axis=0).T)  # (⊙ m: dropout)
            delta = pointwise.backward(network.activations[l - 1], grad_y, zs[l - 1],
                                       fp.activated(l - 1))


def backward_to_input(network: MLP, fp: ForwardPass, t: np.ndarray, loss: Loss,
                      threads: int = 1, pointwise: Pointwise = NUMPY_POINTWISE) -> np.ndarray:
    """∂E_b/∂y⁰_b (B, n_0) for each sample of the forward pass ``fp`` (no dropout masks).

    The same maths as :func:`digitlab.nn.adversarial.input_gradient`: equation (1) carries
    δ^{l−1} = (δ^l W^l) ⊙ f′(z^{l−1}) down from the output delta, and one more product gives
    ∂E/∂y⁰ = −δ⁰W⁰; no weight gradient is formed. Each product δ^l W^l, (B, n_{l+1}) @
    (n_{l+1}, n_l), is split over ``threads`` by its columns; ``pointwise`` computes f′.
    """
    batch = fp.ys[0].shape[0]
    delta = network.output_delta(fp, t, loss)  # δ^{L−1}: (B, n_L)
    for l in reversed(range(network.n_layers)):
        W = network.weights[l]
        grad_y = np.empty((batch, W.shape[1]), dtype=network.dtype)  # −∂E/∂y^l: (B, n_l)

        def columns(lo, hi, W=W, delta=delta, grad_y=grad_y):
            np.matmul(delta, W[:, lo:hi], out=grad_y[:, lo:hi])

        in_parts(columns, W.shape[1], threads if W.shape[1] >= 256 else 1, align=64)
        if l == 0:
            return -grad_y
        delta = pointwise.backward(network.activations[l - 1], grad_y, fp.zs[l - 1],
                                   fp.activated(l - 1))
    raise AssertionError("a network has at least one layer")  # pragma: no cover


def input_gradient(network: MLP, x: np.ndarray, t: np.ndarray, loss: Loss, threads: int = 1
                   ) -> tuple[np.ndarray, np.ndarray]:
    """``(E, g)``: each sample's loss (B,) and ∂E/∂y⁰ (B, n_0), through :func:`forward` and
    :func:`backward_to_input` (the gradient an attack climbs, equation (3) turned around)."""
    fp = forward(network, x, threads)
    return loss.per_sample(fp.output, t), backward_to_input(network, fp, t, loss, threads)


# ---------------------------------------------------------------------- the dispatch point
class Kernels(Protocol):
    """Everything a fused backend offers, declared: the three step functions (signatures as
    this module's), what they take (:attr:`dropout`), whether it has a per-sample loop
    (:attr:`per_sample_loop`, :meth:`sgd_samples`), what it must do before the first step
    (:meth:`prepare`) and which configs it implements (:meth:`supports`). Nothing is probed:
    a backend without a feature says False, no-op or None."""

    #: :meth:`forward` and :meth:`backward_update` take dropout masks (``fp.masks``)
    dropout: bool
    #: :meth:`sgd_samples` trains many per-sample steps in one call
    per_sample_loop: bool

    def supports(self, config: TrainConfig, per_sample: bool) -> str | None:
        """None when these kernels implement ``config`` (per-sample SGD when ``per_sample``),
        else why not, in a few words."""

    def prepare(self, network: MLP, per_sample: bool) -> None:
        """Before the first step of training ``network`` (e.g. compile for its dtype)."""

    def forward(self, network: MLP, x: np.ndarray, threads: int,
                masks: list[np.ndarray | None] | None = None) -> ForwardPass:
        """The forward pass: ``x`` (B, n_0) → ``ForwardPass`` (ys[l]: (B, n_l))."""

    def sgd_step(self, network: MLP, fp: ForwardPass, t: np.ndarray, loss: Loss,
                 lr: float) -> None:
        """Per-sample SGD, equations (1)–(2) in place: ``t`` (B, n_L)."""

    def backward_update(self, network: MLP, fp: ForwardPass, t: np.ndarray, loss: Loss,
                        optimizer: Optimizer, lr: float | None, threads: int) -> None:
        """Equation (1) fused with the optimizer's step: ``t`` (B, n_L)."""

    def sgd_samples(self, network: MLP, images: np.ndarray, targets: np.ndarray,
                    order: np.ndarray, rates, loss: Loss,
                    threads: int) -> tuple[int, np.ndarray, np.ndarray]:
        """Per-sample SGD on ``images[order]`` in one call (only where
        :attr:`per_sample_loop`): see :meth:`FusedEngine.sgd_samples`."""

    def input_gradient(self, network: MLP, x: np.ndarray, t: np.ndarray, loss: Loss,
                       threads: int) -> tuple[np.ndarray, np.ndarray]:
        """``(E (B,), ∂E/∂y⁰ (B, n_0))`` without dropout: see :func:`input_gradient`."""


class NumpyKernels:
    """This module's kernels: NumPy, SciPy's BLAS and plain threads; every config, dropout
    included, and no per-sample loop (a per-sample step is one :func:`sgd_step`)."""

    dropout = True
    per_sample_loop = False
    forward = staticmethod(forward)
    sgd_step = staticmethod(sgd_step)
    backward_update = staticmethod(backward_update)
    input_gradient = staticmethod(input_gradient)

    @staticmethod
    def supports(config: TrainConfig, per_sample: bool) -> str | None:
        return None

    @staticmethod
    def prepare(network: MLP, per_sample: bool) -> None:
        """Nothing to prepare: NumPy's functions are ready."""

    @staticmethod
    def sgd_samples(network, images, targets, order, rates, loss, threads):
        raise NotImplementedError("the NumPy kernels have no per-sample loop "
                                  "(per_sample_loop is False): step with sgd_step")


#: fused backends by name; :class:`FusedEngine` looks its kernels up here
KERNELS: dict[str, Kernels] = {"numpy": NumpyKernels()}


def register_kernels(name: str, kernels: Kernels) -> None:
    """Make a compiled backend available as ``FusedEngine(kernels=name)``."""
    KERNELS[name] = kernels


class FusedEngine:
    """Training steps through the fused kernels (an :class:`~digitlab.nn.engines.Engine`).

    ``per_sample_sgd`` (batch size 1, SGD without momentum or weight decay) takes
    :func:`sgd_step`; every other configuration takes :func:`backward_update`. Kernels that
    declare a per-sample loop (:attr:`Kernels.per_sample_loop`, the compiled ones) make
    :attr:`trains_samples` true for per-sample SGD, and the training loop then hands them a run
    of samples at a time through :meth:`sgd_samples`.
    """

    name = "fused"

    def __init__(self, *, threads: int = 1, per_sample_sgd: bool = False,
                 kernels: str = "numpy"):
        if kernels not in KERNELS:
            raise ConfigError(f"unknown fused kernels {kernels!r}; expected one of "
                              f"{', '.join(KERNELS)}")
        self.kernels, self.threads, self.per_sample_sgd = KERNELS[kernels], threads, per_sample_sgd
        self.kernels_name = kernels
        #: whether :meth:`sgd_samples` trains many per-sample steps in one call
        self.trains_samples = per_sample_sgd and self.kernels.per_sample_loop
        prepare_blas()

    def prepare(self, network: MLP) -> None:
        """Get ready to train ``network``: kernels that compile do so now, before the first
        step (see :func:`digitlab.nn.compiled.kernels.compile_per_sample` and
        :func:`~digitlab.nn.compiled.kernels.compile_minibatch`)."""
        self.kernels.prepare(network, self.trains_samples)

    def sgd_samples(self, network: MLP, images: np.ndarray, targets: np.ndarray,
                    order: np.ndarray, rates, loss: Loss):
        """Per-sample SGD on ``images[order]`` ((N, n_0), targets (N, n_L)), rate ``rates[s]``
        for the s-th: ``(done, losses, predicted)``, the samples done (fewer than
        ``len(order)`` when a loss was NaN or infinite: that sample is not applied), E of each
        (and of the one that stopped it) and the index of each one's largest output."""
        return self.kernels.sgd_samples(network, images, targets, order, rates, loss,
                                        self.threads)

    def _kernels_for(self, masks) -> Kernels:
        """The kernels for a step: with dropout ``masks``, the NumPy kernels unless these
        declare that they take masks (:attr:`Kernels.dropout`)."""
        if masks is None or self.kernels.dropout:
            return self.kernels
        return KERNELS["numpy"]

    def input_gradient(self, network: MLP, x: np.ndarray, t: np.ndarray,
                       loss: Loss) -> tuple[np.ndarray, np.ndarray]:
        """``(E (B,), ∂E/∂y⁰ (B, n_0))``, through the kernels' forward pass and
        :func:`backward_to_input`, split over the engine's threads."""
        return self.kernels.input_gradient(network, np.asarray(x, dtype=network.dtype), t, loss,
                                           self.threads)

    def forward(self, network: MLP, x: np.ndarray,
                masks: list[np.ndarray | None] | None = None) -> ForwardPass:
        """The forward pass of ``x`` (B, n_0), with dropout ``masks`` when given."""
        if masks is None:
            return self.kernels.forward(network, x, self.threads)
        return self._kernels_for(masks).forward(network, x, self.threads, masks)

    def update(self, network: MLP, fp: ForwardPass, t: np.ndarray, loss: Loss,
               optimizer: Optimizer, lr: float) -> None:
        """Equations (1)–(2) for the targets ``t`` (B, n_L), and the optimizer's step."""
        kernels = self._kernels_for(fp.masks)
        if self.per_sample_sgd:
            kernels.sgd_step(network, fp, t, loss, lr)  # equations (1)–(2), in place
        else:
            kernels.backward_update(network, fp, t, loss, optimizer, lr, self.threads)
