"""The Python side of the compiled kernels (imported by :func:`digitlab.nn.compiled.load` once
Numba is known to load): :class:`PerSampleSGD` runs a network's per-sample training through
:func:`~digitlab.nn.compiled.network_kernels.sgd_block`, a block of samples at a time, with
its scratch arrays and a :class:`ThreadChooser`; :class:`CompiledMinibatch` runs minibatch
steps with SGD or Adam a layer per compiled call; :class:`CompiledUpdate` is an optimizer whose
update is compiled; :class:`CompiledPointwise` the activations; :class:`NumbaKernels` is what
the fused engine registers as its ``"numba"`` kernels."""

import logging
import threading
import time
import weakref

import numpy as np
from numba import config as numba_config
from numba import set_num_threads

from digitlab.errors import Message
from digitlab.i18n import N_
from digitlab.nn import fused, parallel
from digitlab.nn.compiled import support
from digitlab.nn.compiled.minibatch_kernels import backward_layer, delta_below, forward_layer
from digitlab.nn.compiled.network_kernels import (
    ACTIVATION_CODES,
    LOSS_CODES,
    PARALLEL_WORK,
    sgd_block,
)
from digitlab.nn.compiled.optimizer_kernels import adam_update, sgd_update
from digitlab.nn.compiled.pointwise_kernels import (
    SOFTMAX,
    activate_all,
    backprop_all,
    to_flat,
)
from digitlab.nn.losses import get_loss
from digitlab.nn.network import MLP, ForwardPass, drop_out
from digitlab.nn.optimizers import SGD, Adam

#: seconds the first compilation may take before training says what it is waiting for
COMPILE_NOTICE_AFTER = 1.0
log = logging.getLogger(__name__)
_compiled_for: set[tuple] = set()  # (kernels, dtype, ...) compiled or loaded in this process


def compile_per_sample(dtype, has_bias: bool) -> None:
    """Compile the per-sample kernel for networks of this dtype (or load it from the disk cache)
    before training starts, on a network of two units a layer.

    The first time on a new install this takes about 20 s of CPU. A progress bar standing
    still at its first sample would show that as an endless step, so after
    :data:`COMPILE_NOTICE_AFTER` seconds one line says what is happening.
    """
    def run_tiny():
        tiny = MLP([2, 2, 2], ["tanh", "tanh"], bias=has_bias, dtype=dtype)
        zeros = np.zeros((1, 2), dtype=tiny.dtype)
        PerSampleSGD(tiny, "mse").run(zeros, zeros, [0], [0.0], threads=1)

    _compile_once(("per-sample", np.dtype(dtype).str, bool(has_bias)),
                  Message("per-sample training"), run_tiny)


def compile_minibatch(dtype) -> None:
    """Compile the minibatch kernels (:class:`CompiledMinibatch`) for networks of this dtype
    before training starts, as :func:`compile_per_sample` does: about 11 s of CPU the first
    time on a new install (measured), then read from the disk cache."""
    def run_tiny():
        tiny = MLP([2, 2, 2], ["tanh", "softmax"], bias=True, dtype=dtype)
        x = np.zeros((1, 2), dtype=tiny.dtype)
        loss = get_loss("ce")
        CompiledMinibatch.backward_update(tiny, CompiledMinibatch.forward(tiny, x, 1),
                                          tiny.targets(np.zeros(1, dtype=np.int64), loss),
                                          loss, SGD(0.01), None, 1)

    _compile_once(("minibatch", np.dtype(dtype).str), Message("minibatch training"), run_tiny)


def _compile_once(key: tuple, what: Message, run_tiny) -> None:
    """Run ``run_tiny`` (which compiles, or loads from the disk cache) once per ``key``, with
    one info line (:mod:`logging`) when it takes longer than :data:`COMPILE_NOTICE_AFTER`
    seconds."""
    if key in _compiled_for:
        return
    finished = threading.Event()

    def notice() -> None:
        if not finished.wait(COMPILE_NOTICE_AFTER):
            log.info(N_("compiling the %s kernels for this machine (once: they are then cached "
                        "on disk) ..."), what)

    threading.Thread(target=notice, name="digitlab-compile-notice", daemon=True).start()
    try:
        run_tiny()
    finally:
        finished.set()
    _compiled_for.add(key)


class ThreadChooser:
    """Chooses how many threads each call of the per-sample kernel uses: 1 or ``most``,
    whichever has run faster.

    The kernel gives the same weights for any thread count, so the choice may follow the clock.
    A step of the assignment network lasts about 50–100 µs, and two threads pay off only while
    both cores are free: on a busy machine, waiting for a descheduled thread costs up to
    milliseconds. The other count is tried now and then, at intervals that double while it
    keeps losing, so that the choice follows a changing load at a bounded cost.
    """

    def __init__(self, most: int):
        self.most = max(1, int(most))
        self.cost: dict[int, float] = {}  # threads -> running mean of seconds per sample
        self.best = self.most
        self.interval, self.countdown = 4, 0  # calls between tries of the other count

    def pick(self) -> int:
        """The thread count for the next call."""
        if self.most == 1:
            return 1
        if len(self.cost) < 2:  # time both first
            return self.most if self.most not in self.cost else 1
        self.countdown -= 1
        if self.countdown > 0:
            return self.best
        self.countdown = self.interval
        return 1 if self.best == self.most else self.most

    def record(self, threads: int, seconds_per_sample: float) -> None:
        old = self.cost.get(threads)
        self.cost[threads] = (seconds_per_sample if old is None
                              else 0.5 * old + 0.5 * seconds_per_sample)
        if len(self.cost) < 2:
            return
        best = min(self.cost, key=self.cost.__getitem__)
        if threads != self.best:  # a try of the other count: if it lost, wait twice as long
            self.interval = 4 if best == threads else min(2 * self.interval, 1024)
            self.countdown = self.interval
        self.best = best


#: samples whose first-layer products are taken together, as one matrix product (see
#: :func:`~digitlab.nn.compiled.network_kernels.sgd_block`)
BLOCK = 64
#: the first layer's products are split into this many blocks of rows whatever the thread count,
#: so that each row is computed by the same BLAS calls on one thread or on several
FIRST_LAYER_PARTS = 2


class PerSampleSGD:
    """Per-sample SGD of one network through :func:`sgd_block`, with its scratch arrays.

    ``run(images, targets, order, rates)`` trains on ``images[order]`` in place and returns
    ``(done, losses, predicted)``. The samples go in blocks of :data:`BLOCK`: for each block,
    W⁰'s products with the block's images and the images' products with each other are taken
    first (BLAS, one thread per block of rows), the compiled kernel then trains sample by
    sample, and W⁰ ← W⁰ + Σ_k η_k δ⁰_k (y⁰_k)ᵀ applies the block's first-layer updates at the
    end (BLAS). ``threads`` is the most cores a call may use;
    :class:`ThreadChooser` decides how many it does. The result does not depend on the thread
    count; it depends on where the calls and blocks divide the samples (only in rounding: each
    call ends with every update applied), so callers divide an epoch the same way every time.
    """

    def __init__(self, network, loss_name: str, threads: int = 1, block: int = BLOCK):
        self.network = network
        sizes = network.sizes
        self.sizes = np.asarray(sizes, dtype=np.int64)
        self.offsets = np.asarray(network.offsets, dtype=np.int64)
        self.codes = np.asarray([ACTIVATION_CODES[n] for n in network.activation_names],
                                dtype=np.int64)
        self.loss_code = LOSS_CODES[loss_name]
        dtype = network.dtype
        self.ys = np.zeros((2, sum(sizes)), dtype=dtype)
        self.zs = np.zeros(sum(sizes[1:]), dtype=dtype)
        self.deltas = np.zeros_like(self.zs)
        n_in, n_out = sizes[0], sizes[1]
        self.block = block
        self.inputs = np.zeros((block, n_in), dtype=dtype)
        self.first_products = np.zeros(n_out * block, dtype=dtype)  # (n_1, k), k ≤ block
        self.gram = np.zeros(block * block, dtype=dtype)  # (k, k)
        self.first_steps = np.zeros((block, n_out), dtype=dtype)
        parts = FIRST_LAYER_PARTS if n_out * n_in >= PARALLEL_WORK else 1
        self.row_bounds = parallel.split(n_out, parts, align=16)
        # Sᵀ Y before it is added to W⁰ (a BLAS gemm adding in place, as SciPy's, would keep
        # the GIL and so one thread at a time, and mix a second BLAS into the loop)
        self.first_update = np.zeros((n_out, n_in), dtype=dtype)
        # Numba's pool has NUMBA_NUM_THREADS threads (the machine's cores unless set lower)
        self.chooser = ThreadChooser(min(threads, numba_config.NUMBA_NUM_THREADS))

    def run(self, images, targets, order, rates, threads: int | None = None):
        """Train on ``images[order]`` ((N, n_0), targets (N, n_L)) with a rate per sample;
        ``threads`` forces a thread count. Returns ``(done, losses, predicted)``: the number of
        samples applied, E of each (and of the one whose E was not finite, when done <
        len(order)) and the index of each one's largest output."""
        order = np.asarray(order, dtype=np.int64)
        rates = np.asarray(rates, dtype=np.float64)
        losses = np.empty(len(order), dtype=np.float64)
        predicted = np.empty(len(order), dtype=np.int64)
        chosen = self.chooser.pick() if threads is None else min(threads, self.chooser.most)
        set_num_threads(chosen)
        start = time.perf_counter()
        done = 0
        for lo in range(0, len(order), self.block):
            hi = min(lo + self.block, len(order))
            applied = self._block(images, targets, order[lo:hi], rates[lo:hi], losses[lo:hi],
                                  predicted[lo:hi], chosen)
            done += applied
            if applied < hi - lo:
                break
        if done:
            self.chooser.record(chosen, (time.perf_counter() - start) / done)
        return done, losses[: min(done + 1, len(order))], predicted[:done]

    def _block(self, images, targets, order, rates, losses, predicted, threads) -> int:
        """One block of samples (see :func:`sgd_block`); returns how many were applied."""
        net, k = self.network, len(order)
        W0, b0 = net.weights[0], net.biases[0]
        inputs = self.inputs[:k]
        np.take(images, order, axis=0, out=inputs)
        products = self.first_products[: W0.shape[0] * k].reshape(W0.shape[0], k)
        gram = self.gram[: k * k].reshape(k, k)

        def first_products(lo, hi):  # W⁰ Yᵀ, rows lo..hi
            np.matmul(W0[lo:hi], inputs.T, out=products[lo:hi])

        parallel.in_bounds(first_products, self.row_bounds, threads)
        np.matmul(inputs, inputs.T, out=gram)
        steps = self.first_steps[:k]
        done = sgd_block(net.params, self.sizes, self.offsets, self.codes, net.has_bias,
                         self.loss_code, targets, order, rates, products, gram, steps, losses,
                         predicted, self.ys, self.zs, self.deltas, threads)
        if done:
            applied, used = steps[:done], inputs[:done]

            def first_update(lo, hi):  # W⁰ ← W⁰ + Sᵀ Y, rows lo..hi
                np.matmul(applied[:, lo:hi].T, used, out=self.first_update[lo:hi])
                W0[lo:hi] += self.first_update[lo:hi]

            parallel.in_bounds(first_update, self.row_bounds, threads)
            if net.has_bias:
                b0 += applied.sum(axis=0)
        return done


class CompiledUpdate:
    """An optimizer whose ``update`` of a piece of θ runs as one compiled pass.

    ``begin_step`` and the state (moments, velocity, step count, checkpoints) stay the wrapped
    optimizer's own, so the two can be used in turn on the same run.
    """

    def __init__(self, optimizer):
        if not isinstance(optimizer, (SGD, Adam)):
            raise TypeError(f"no compiled update for {type(optimizer).__name__}")
        self.optimizer = optimizer
        self._adam = isinstance(optimizer, Adam)
        self._no_velocity = np.zeros(0, dtype=np.float64)

    def begin_step(self, params, lr=None):
        self.optimizer.begin_step(params, lr)

    def update(self, params, grad, lo):
        o, hi = self.optimizer, lo + grad.size
        if self._adam:
            adam_update(params[lo:hi], grad, o.m_scaled[lo:hi], o.v_scaled[lo:hi], o.beta1,
                        o.beta2, o.step_size, o.step_eps, o.weight_decay)
        else:
            velocity = o.velocity[lo:hi] if o.momentum else params[lo:lo]
            sgd_update(params[lo:hi], grad, velocity, o.step_lr, o.momentum, o.nesterov,
                       o.weight_decay)


class CompiledPointwise(fused.Pointwise):
    """Activations and their slopes in one compiled pass each
    (:mod:`~digitlab.nn.compiled.pointwise_kernels`); arrays of mixed layouts, and the softmax,
    go to NumPy."""

    def forward(self, activation, z):
        y = np.empty_like(z)
        return y if self.forward_into(activation, z, y) else activation.forward(z)

    def forward_into(self, activation, z, y):
        code = ACTIVATION_CODES[activation.name]
        flat = None if code == SOFTMAX else to_flat(z, y)
        if flat is None:
            return False
        activate_all(code, *flat, z.dtype == np.float32)
        return True

    def backward(self, activation, grad_y, z, y):
        code = ACTIVATION_CODES[activation.name]
        out = np.empty_like(grad_y)
        flat = None if code == SOFTMAX else to_flat(grad_y, z, y, out)
        if flat is None:
            return activation.backward(grad_y, z, y)
        backprop_all(code, *flat)
        return out


#: a layer with fewer output units than this runs its forward pass as one piece
FORWARD_SPLIT_UNITS = 256
#: pieces of a wide layer's forward pass, fixed so that any thread count gives the same result
FORWARD_PIECES = 2


class CompiledMinibatch:
    """A minibatch step through :mod:`~digitlab.nn.compiled.minibatch_kernels`: the same
    computations, in the same order, as :func:`digitlab.nn.fused.forward` and
    :func:`digitlab.nn.fused.backward_update`, each layer one compiled call on Numba's threads.

    For plain SGD (with momentum, Nesterov, weight decay) and Adam; :meth:`handles` says
    whether an optimizer is one of them.
    """

    @staticmethod
    def handles(optimizer) -> bool:
        return type(optimizer) in (SGD, Adam)

    @staticmethod
    def forward(network: MLP, x: np.ndarray, threads: int,
                masks: list[np.ndarray | None] | None = None) -> ForwardPass:
        """:func:`digitlab.nn.fused.forward` (dropout ``masks`` included); ``threads`` cores."""
        set_num_threads(min(threads, numba_config.NUMBA_NUM_THREADS))
        fast = network.dtype == np.float32
        ys, zs, undropped = [np.asarray(x, dtype=network.dtype)], [], []
        for l, (W, b, f) in enumerate(zip(network.weights, network.biases,
                                          network.activations, strict=True)):
            y_columns = np.ascontiguousarray(ys[-1].T)  # (n_l, B)
            z_columns = np.empty((W.shape[0], y_columns.shape[1]), dtype=network.dtype)
            out_columns = np.empty_like(z_columns)
            code = ACTIVATION_CODES[f.name]
            pieces = FORWARD_PIECES if W.shape[0] >= FORWARD_SPLIT_UNITS else 1
            biases = network.params[:0] if b is None else b
            forward_layer(W, biases, b is not None, y_columns, z_columns, z_columns.reshape(-1),
                          out_columns.reshape(-1), code, fast, pieces)
            zs.append(z_columns.T)
            ys.append(f.forward(zs[-1]) if code == SOFTMAX else out_columns.T)
            drop_out(ys, undropped, masks, l)
        return ForwardPass(ys, zs) if masks is None else ForwardPass(ys, zs, masks, undropped)

    @staticmethod
    def backward_update(network: MLP, fp: ForwardPass, t: np.ndarray, loss, optimizer, lr,
                        threads: int) -> None:
        """:func:`digitlab.nn.fused.backward_update` for SGD or Adam; ``threads`` cores."""
        set_num_threads(min(threads, numba_config.NUMBA_NUM_THREADS))
        row_block = fused.ROW_BLOCK
        dtype, params = network.dtype, network.params
        batch = fp.ys[0].shape[0]
        optimizer.begin_step(params, lr)
        update = CompiledMinibatch._update_arguments(optimizer, params)
        ones = np.ones(batch, dtype=dtype)
        no_mask = np.empty((0, 0), dtype=dtype)
        threads_most = numba_config.NUMBA_NUM_THREADS
        delta = network.output_delta(fp, t, loss)  # δ^{L−1}: (B, n_L)
        delta_columns = np.ascontiguousarray(delta.T)  # (n_L, B)
        for l in reversed(range(network.n_layers)):
            W, start = network.weights[l], network.offsets[l]
            n_out, n_in = W.shape
            scaled_columns = delta_columns * (-1.0 / batch)  # −δ^l / B
            bias_grad = scaled_columns @ ones if network.has_bias else params[:0]  # −(1/B) Σ δ
            blocks = -(-n_out // row_block) if l > 0 else 0
            shares = fused.scratch("shares", (blocks, batch, n_in), dtype)
            blocks_t = fused.scratch("blocks", (threads_most, batch * row_block), dtype)
            gradients = fused.scratch("gradients", (threads_most, row_block, n_in), dtype)
            y_columns = np.ascontiguousarray(fp.ys[l].T)  # (n_l, B): a copy only for the input
            backward_layer(W, params, start, network.has_bias, delta_columns, scaled_columns,
                           bias_grad, y_columns, shares, blocks_t, gradients, row_block, *update)
            if l > 0:  # equation (1): δ^{l−1} = ((δ^l W^l) ⊙ m^{l−1}) ⊙ f′(z^{l−1}), (n_l, B)
                mask = fp.masks[l - 1] if fp.masks is not None else None
                delta_columns = np.empty((n_in, batch), dtype=dtype)
                delta_below(ACTIVATION_CODES[network.activations[l - 1].name], shares,
                            no_mask if mask is None else np.ascontiguousarray(mask),
                            fp.zs[l - 1].T, fp.activated(l - 1).T, delta_columns)

    @staticmethod
    def _update_arguments(optimizer, params) -> tuple:
        """The optimizer's part of :func:`backward_layer`'s arguments, after ``begin_step``:
        (adam, m, v, velocity, c0 … c4, nesterov), the constants as Python floats (one
        compiled signature for all)."""
        o, empty = optimizer, params[:0]
        if isinstance(o, Adam):
            return (True, o.m_scaled, o.v_scaled, empty, float(o.beta1), float(o.beta2),
                    float(o.step_size), float(o.step_eps), float(o.weight_decay), False)
        return (False, empty, empty, o.velocity if o.momentum else empty, float(o.step_lr),
                float(o.momentum), float(o.weight_decay), 0.0, 0.0, bool(o.nesterov))


class NumbaKernels:
    """The fused engine's kernels (the :class:`digitlab.nn.fused.Kernels` protocol) with the
    compiled parts: per-sample SGD many samples per call (:meth:`sgd_samples`); minibatch steps
    with SGD or Adam a layer per compiled call (:class:`CompiledMinibatch`); other optimizers
    through :func:`digitlab.nn.fused.backward_update` with the compiled activations
    (:class:`CompiledPointwise`) and, for SGD and Adam subclasses, a compiled update
    (:class:`CompiledUpdate`)."""

    pointwise = CompiledPointwise()
    sgd_step = staticmethod(fused.sgd_step)
    minibatch = CompiledMinibatch()

    #: the forward pass and the update take dropout masks (see :class:`fused.FusedEngine`)
    dropout = True
    #: :meth:`sgd_samples` trains many per-sample steps in one call
    per_sample_loop = True
    #: the configs these kernels implement, declared as fields (:mod:`.support`)
    supports = staticmethod(support.supports)

    def forward(self, network, x, threads, masks=None):
        return self.minibatch.forward(network, x, threads, masks)

    def input_gradient(self, network, x, t, loss, threads):
        """The compiled forward pass, then :func:`digitlab.nn.fused.backward_to_input` with
        the compiled activations' slopes."""
        fp = self.forward(network, x, threads)
        return (loss.per_sample(fp.output, t),
                fused.backward_to_input(network, fp, t, loss, threads, self.pointwise))

    def __init__(self):
        # the last network's per-sample trainer (scratch arrays, thread timings), and the last
        # optimizer's compiled update, each kept with a weak reference to what it serves
        self._per_sample: tuple[weakref.ref, tuple, PerSampleSGD] | None = None
        self._update: tuple[weakref.ref, CompiledUpdate] | None = None

    def backward_update(self, network, fp, t, loss, optimizer, lr, threads):
        if self.minibatch.handles(optimizer):
            self.minibatch.backward_update(network, fp, t, loss, optimizer, lr, threads)
            return
        if isinstance(optimizer, (SGD, Adam)):
            if self._update is None or self._update[0]() is not optimizer:
                self._update = (weakref.ref(optimizer), CompiledUpdate(optimizer))
            optimizer = self._update[1]
        fused.backward_update(network, fp, t, loss, optimizer, lr, threads,
                              pointwise=self.pointwise)

    def prepare(self, network, per_sample: bool) -> None:
        """Before training: compile what a run of ``network`` needs."""
        if per_sample:
            compile_per_sample(network.dtype, network.has_bias)
        else:
            compile_minibatch(network.dtype)

    def sgd_samples(self, network, images, targets, order, rates, loss, threads):
        key = (loss.name, threads)
        cached = self._per_sample
        if cached is None or cached[0]() is not network or cached[1] != key:
            cached = self._per_sample = (weakref.ref(network), key,
                                         PerSampleSGD(network, loss.name, threads))
        return cached[2].run(images, targets, order, rates)
