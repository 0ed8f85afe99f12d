"""The multilayer perceptron: forward pass, backpropagation (equations (1)–(2)) and the input
gradient (the building block of equation (3)).

Notation follows the assignment. Layer l maps y^l to y^{l+1} = f(z^l) with z^l = W^l y^l (+ b^l).
A batch holds B samples as rows, so in code ``y[l]`` has shape (B, n_l) and ``W[l]`` has shape
(n_{l+1}, n_l) (W_ij: from input j to output i). The matrix products themselves use the
assignment's column form, one column per sample: ``z.T = W @ y.T``, (n_{l+1}, B) arrays whose
(B, n) views the methods return. At small batches BLAS computes that form about twice as fast as
the row form ``y @ W.T`` (measured at B = 32: 356 µs against 672 µs for a 1024×1024 layer).

All parameters live in one contiguous vector :attr:`MLP.params`; the per-layer weights and biases
are views into it, and the gradients likewise into :attr:`MLP.grads`. Optimizers therefore update
every parameter in a handful of whole-vector operations.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from digitlab.errors import ConfigError
from digitlab.nn.activations import Activation, get_activation
from digitlab.nn.blas import blas_add_outer
from digitlab.nn.init import init_weight
from digitlab.nn.losses import CrossEntropy, Loss
from digitlab.nn.parallel import in_parts


@dataclass
class Trace:
    """What the forward pass keeps for backpropagation.

    ``ys[0]`` is the input (B, n_0); ``ys[l + 1] = f(zs[l])`` for each layer l; ``ys[-1]`` is the
    network's output (B, n_L).
    """

    ys: list[np.ndarray]
    zs: list[np.ndarray]
    #: dropout (see :mod:`digitlab.nn.dropout`): the scaled mask m^l (B, n_{l+1}) of each layer
    #: or None, and f(z^l) before the mask was applied (ys[l + 1] = f(z^l) ⊙ m^l)
    masks: list[np.ndarray | None] | None = None
    undropped: list[np.ndarray | None] | None = None

    def activated(self, l: int) -> np.ndarray:
        """f(z^l) as the activation computed it (before dropout): for f′ from the output."""
        if self.undropped is not None and self.undropped[l] is not None:
            return self.undropped[l]
        return self.ys[l + 1]

    def hidden_gradient(self, l: int, grad_y: np.ndarray) -> np.ndarray:
        """∂E/∂f(z^l) from ∂E/∂y^{l+1}: times the dropout mask m^l when there is one."""
        if self.masks is not None and self.masks[l] is not None:
            return grad_y * self.masks[l]
        return grad_y

    @property
    def output(self) -> np.ndarray:
        return self.ys[-1]


class MLP:
    """A sequence of dense layers y^{l+1} = f_l(W^l y^l + b^l).

    Parameters
    ----------
    sizes : list of int
        Layer widths, e.g. ``[784, 784, 10]`` (input, hidden..., output).
    activations : list of str
        One name per layer (``len(sizes) - 1``), e.g. ``["tanh", "tanh"]``.
    bias : bool
        Whether layers have a bias b^l (the assignment has none).
    init : str
        ``"gaussian"`` (variance 2/fan-in, the assignment's), ``"glorot"`` or ``"he"``.
    dtype : numpy dtype
        float32 (default) or float64.
    rng : numpy.random.Generator
        Source of the initial weights; the same seed gives bit-identical weights.
    """

    def __init__(
        self,
        sizes: list[int],
        activations: list[str],
        *,
        bias: bool = False,
        init: str = "gaussian",
        dtype=np.float32,
        rng: np.random.Generator | None = None,
    ):
        sizes = [int(n) for n in sizes]
        if len(sizes) < 2 or min(sizes) < 1:
            raise ConfigError(f"layer sizes must be at least two positive integers, got {sizes}")
        if len(activations) != len(sizes) - 1:
            raise ConfigError(
                f"need one activation per layer ({len(sizes) - 1}), got {len(activations)}"
            )
        self.dtype = np.dtype(dtype)
        if self.dtype not in (np.float32, np.float64):
            raise ConfigError(f"dtype must be float32 or float64, got {self.dtype}")
        self.sizes = sizes
        self.activation_names = list(activations)
        self.activations: list[Activation] = [get_activation(a) for a in activations]
        if any(a.name == "softmax" for a in self.activations[:-1]):
            raise ConfigError("softmax is only allowed on the output layer")
        self.has_bias = bool(bias)
        self.init = init

        self.params = np.zeros(self._n_parameters(), dtype=self.dtype)
        self.grads = np.zeros_like(self.params)
        self.weights, self.biases = self._views(self.params)
        self.weight_grads, self.bias_grads = self._views(self.grads)

        rng = rng if rng is not None else np.random.default_rng(0)
        for l, W in enumerate(self.weights):
            W[...] = init_weight(init, sizes[l + 1], sizes[l], rng, self.dtype)

    # ------------------------------------------------------------------ structure
    @property
    def n_layers(self) -> int:
        return len(self.sizes) - 1

    @property
    def output_activation(self) -> Activation:
        return self.activations[-1]

    def _n_parameters(self) -> int:
        return sum(
            n_out * n_in + (n_out if self.has_bias else 0)
            for n_in, n_out in zip(self.sizes[:-1], self.sizes[1:], strict=True)
        )

    def _views(self, flat: np.ndarray):
        """Per-layer views W^l (n_out, n_in) and b^l (n_out,) or None into a flat vector."""
        weights, biases, start = [], [], 0
        self.offsets = []  # where each layer's W^l (then b^l) starts in the flat vector
        for n_in, n_out in zip(self.sizes[:-1], self.sizes[1:], strict=True):
            self.offsets.append(start)
            weights.append(flat[start : start + n_out * n_in].reshape(n_out, n_in))
            start += n_out * n_in
            if self.has_bias:
                biases.append(flat[start : start + n_out])
                start += n_out
            else:
                biases.append(None)
        return weights, biases

    def named_parameters(self) -> dict[str, np.ndarray]:
        """``{"W0": W^0, "b0": b^0, "W1": ...}`` (views, not copies)."""
        named = {}
        for l, (W, b) in enumerate(zip(self.weights, self.biases, strict=True)):
            named[f"W{l}"] = W
            if b is not None:
                named[f"b{l}"] = b
        return named

    def summary(self) -> list[tuple[str, str, int]]:
        """Rows (layer, output shape, parameters), like Keras's model summary."""
        rows = [("input", f"(None, {self.sizes[0]})", 0)]
        for l, act in enumerate(self.activations):
            n_in, n_out = self.sizes[l], self.sizes[l + 1]
            n_params = n_in * n_out + (n_out if self.has_bias else 0)
            rows.append((f"dense_{l} ({act.name})", f"(None, {n_out})", n_params))
        return rows

    def copy(self) -> MLP:
        """An independent network with the same architecture and weights."""
        clone = MLP(
            self.sizes, self.activation_names, bias=self.has_bias, init=self.init,
            dtype=self.dtype, rng=np.random.default_rng(0),
        )
        clone.params[...] = self.params
        return clone

    def astype(self, dtype) -> MLP:
        """A copy of this network in another floating-point type (e.g. float64 for checks)."""
        clone = MLP(
            self.sizes, self.activation_names, bias=self.has_bias, init=self.init,
            dtype=dtype, rng=np.random.default_rng(0),
        )
        clone.params[...] = self.params
        return clone

    # ------------------------------------------------------------------ forward
    def forward(
        self, x: np.ndarray, threads: int = 1, masks: list[np.ndarray | None] | None = None
    ) -> Trace:
        """Forward pass keeping every z^l and y^l for backpropagation. ``x``: (B, n_0).

        With dropout ``masks`` (one per layer, see :mod:`digitlab.nn.dropout`), each hidden
        output is y^{l+1} = f(z^l) ⊙ m^l; the trace keeps the masks for backpropagation.

        Each layer computes the assignment's column form z^l = W^l y^l + b^l, one column per
        sample: (n_{l+1}, B) = (n_{l+1}, n_l) @ (n_l, B). At small batches BLAS does this about
        twice as fast as the row form y Wᵀ; the trace holds (B, n) views of those arrays. With
        ``threads`` > 1 the output units of each wide layer are split over that many cores.
        """
        ys, zs = [np.asarray(x, dtype=self.dtype)], []
        undropped: list[np.ndarray | None] = []
        for l, (W, b, f) in enumerate(zip(self.weights, self.biases, self.activations,
                                          strict=True)):
            y_columns = ys[-1].T  # (n_l, B)
            z_columns = np.empty((W.shape[0], y_columns.shape[1]), dtype=self.dtype)

            def units(lo, hi, y_columns=y_columns, W=W, b=b, z_columns=z_columns):
                # z = W y + b for output units lo..hi: (hi − lo, n_l) @ (n_l, B)
                np.matmul(W[lo:hi], y_columns, out=z_columns[lo:hi])
                if b is not None:
                    z_columns[lo:hi] += b[lo:hi, np.newaxis]

            in_parts(units, W.shape[0], threads if W.shape[0] >= 256 else 1, align=64)
            zs.append(z_columns.T)
            ys.append(f.forward(zs[-1]))
            if masks is not None and masks[l] is not None:  # inverted dropout
                undropped.append(ys[-1])
                ys[-1] = ys[-1] * masks[l]
            else:
                undropped.append(None)
        if masks is None:
            return Trace(ys, zs)
        return Trace(ys, zs, masks, undropped)

    def predict(self, x: np.ndarray, batch_size: int = 2048) -> np.ndarray:
        """Outputs y^L of shape (N, n_L) for inputs (N, n_0), in batches, keeping nothing."""
        x = np.asarray(x)
        out = np.empty((len(x), self.sizes[-1]), dtype=self.dtype)
        for start in range(0, len(x), batch_size):
            y = np.asarray(x[start : start + batch_size], dtype=self.dtype)
            for W, b, f in zip(self.weights, self.biases, self.activations, strict=True):
                z_columns = W @ y.T  # column form, as in forward
                if b is not None:
                    z_columns += b[:, np.newaxis]
                y = f.forward(z_columns.T)
            out[start : start + batch_size] = y
        return out

    def probabilities(self, x: np.ndarray, batch_size: int = 2048) -> np.ndarray:
        """Class probabilities (N, n_L).

        A softmax output is returned as is. For other outputs (e.g. tanh with ±1 targets) each
        output is measured from its "off" value ``low`` (−1 for tanh) and the results are
        normalised to sum to one: p_k = (y_k − low) / Σ_j (y_j − low). A perfect answer
        (+1 for one digit, −1 for the others) thus gets probability 1.
        """
        return self.output_to_probabilities(self.predict(x, batch_size))

    def output_to_probabilities(self, y: np.ndarray) -> np.ndarray:
        """Probabilities from outputs y^L (N, n_L); see :meth:`probabilities`."""
        if self.output_activation.name == "softmax":
            return y
        shifted = np.maximum(y - self.output_activation.low, 0.0)
        total = shifted.sum(axis=1, keepdims=True)
        uniform = np.full_like(shifted, 1.0 / shifted.shape[1])
        return np.divide(shifted, total, out=uniform, where=total > 0)

    def classify(self, x: np.ndarray, batch_size: int = 2048) -> np.ndarray:
        """Predicted digits (N,): the index of the largest output."""
        return self.predict(x, batch_size).argmax(axis=1)

    def targets(self, labels: np.ndarray, loss: Loss) -> np.ndarray:
        """Target vectors t (B, n_L) for integer labels (B,), as ``loss`` expects them."""
        return loss.targets(labels, self.sizes[-1], self.output_activation.low, self.dtype)

    # ------------------------------------------------------------------ backward
    def output_delta(self, trace: Trace, t: np.ndarray, loss: Loss) -> np.ndarray:
        """δ^{L−1} = −∂E/∂z^{L−1} of shape (B, n_L), per sample; equation (1), first part.

        For E = ½‖y − t‖² and an elementwise f this is −(y^L − t) ⊙ f′(z^{L−1}). For softmax
        with cross-entropy the fused form ∂E/∂z = y − t is used (exact and stable).
        """
        y, z = trace.ys[-1], trace.zs[-1]
        f = self.output_activation
        if isinstance(loss, CrossEntropy):
            if f.name != "softmax":
                raise ConfigError(f"the ce loss needs a softmax output layer, not {f.name}")
            return t - y  # −(y − t)
        return -f.backward(loss.output_gradient(y, t), z, y)

    def backward(
        self, trace: Trace, t: np.ndarray, loss: Loss, *, input_gradient: bool = False
    ) -> np.ndarray | None:
        """Backpropagation: fill :attr:`grads` with ∂Ē/∂θ, Ē the mean of E over the batch.

        Equation (1) carries δ^l = −∂E/∂z^l down the layers,
        ``δ^l = (δ^{l+1} W^{l+1}) ⊙ f′(z^l)``, and equation (2)'s update direction
        ``δ^l_i y^l_j`` gives the gradient ``∂Ē/∂W^l = −(1/B) Σ_b δ^l_b (y^l_b)ᵀ``. A plain SGD
        step ``W ← W − η ∂Ē/∂W`` with B = 1 is therefore exactly equation (2).

        Returns ∂E_b/∂y⁰_b of shape (B, n_0) (each sample's own input gradient, not averaged)
        when ``input_gradient`` is true, else None (and skips that matrix product).
        """
        ys, zs = trace.ys, trace.zs
        batch = ys[0].shape[0]
        delta = self.output_delta(trace, t, loss)  # δ^{L−1}: (B, n_L)
        for l in reversed(range(self.n_layers)):
            delta_columns = delta.T  # (n_{l+1}, B), the column form used in forward
            scaled_columns = delta_columns * (-1.0 / batch)  # −δ^l / B
            # ∂Ē/∂W^l = −(1/B) Σ_b δ^l_b (y^l_b)ᵀ: (n_{l+1}, B) @ (B, n_l) -> (n_{l+1}, n_l)
            np.matmul(scaled_columns, ys[l], out=self.weight_grads[l])
            if self.has_bias:
                np.sum(scaled_columns, axis=1, out=self.bias_grads[l])
            # δ^l W^l for each sample, computed as (W^l)ᵀ δ^l: (n_l, n_{l+1}) @ (n_{l+1}, B)
            if l > 0:  # equation (1): δ^{l−1} = (δ^l W^l) ⊙ f′(z^{l−1}) (⊙ m^{l−1}: dropout)
                grad_y = trace.hidden_gradient(l - 1, (self.weights[l].T @ delta_columns).T)
                delta = self.activations[l - 1].backward(grad_y, zs[l - 1], trace.activated(l - 1))
            elif input_gradient:  # ∂E/∂y⁰ = −δ⁰ W⁰: (B, n_0)
                return -(self.weights[0].T @ delta_columns).T
        return None

    #: rows of a weight matrix whose gradient is computed and handed to the optimizer at once
    row_block = 256

    def backward_update(
        self, trace: Trace, t: np.ndarray, loss: Loss, optimizer, lr: float, threads: int = 1
    ) -> None:
        """Backpropagation fused with the optimizer's step (any optimizer, any batch size).

        The same result as :meth:`backward` followed by ``optimizer.step``, but each weight
        matrix is visited :attr:`row_block` rows at a time, and for each block, while its rows
        are in the CPU cache:

        1. its share of equation (1), δ^l[:, rows] W^l[rows], is computed with the old weights
           (δ^l W^l is the sum of the shares, added in block order);
        2. its gradient rows ∂Ē/∂W^l[rows] = −(1/B) δ^l[:, rows]ᵀ y^l are computed and handed to
           the optimizer at once, which updates those rows in place.

        No gradient for the whole network is written out and read back. As in :meth:`forward`,
        the products use the column form (one column per sample). The blocks of each layer are
        split over ``threads`` cores; the result does not depend on how many.
        """
        ys, zs = trace.ys, trace.zs
        batch = ys[0].shape[0]
        optimizer.begin_step(self.params, lr)
        delta = self.output_delta(trace, t, loss)  # δ^{L−1}: (B, n_L)
        for l in reversed(range(self.n_layers)):
            W, y, start = self.weights[l], ys[l], self.offsets[l]
            n_out, n_in = W.shape
            delta_columns = delta.T  # (n_{l+1}, B)
            scaled_columns = delta_columns * (-1.0 / batch)  # −δ^l / B
            n_blocks = -(-n_out // self.row_block)
            # δ^l W^l in column form, (W^l)ᵀ δ^l, one share per block: (blocks, n_l, B)
            shares = np.empty((n_blocks, n_in, batch), dtype=self.dtype) if l > 0 else None

            def blocks(lo, hi, W=W, n_in=n_in, y=y, start=start, delta_columns=delta_columns,
                       scaled_columns=scaled_columns, shares=shares):
                grad = np.empty((self.row_block, n_in), dtype=self.dtype)
                for r in range(lo, hi, self.row_block):
                    end = min(r + self.row_block, hi)
                    if shares is not None:  # (n_l, rows) @ (rows, B), before the rows change
                        np.matmul(W[r:end].T, delta_columns[r:end],
                                  out=shares[r // self.row_block])
                    # ∂Ē/∂W^l rows r..end: (rows, B) @ (B, n_l)
                    np.matmul(scaled_columns[r:end], y, out=grad[: end - r])
                    optimizer.update(self.params, grad[: end - r].reshape(-1), start + r * n_in)

            in_parts(blocks, n_out, threads if n_out >= 2 * self.row_block else 1,
                     align=self.row_block)
            if self.has_bias:
                optimizer.update(self.params, scaled_columns.sum(axis=1), start + W.size)
            if shares is not None:  # equation (1): δ^{l−1} = (δ^l W^l) ⊙ f′(z^{l−1})
                grad_y = trace.hidden_gradient(l - 1, shares.sum(axis=0).T)
                delta = self.activations[l - 1].backward(grad_y, zs[l - 1], trace.activated(l - 1))

    def sgd_step(self, trace: Trace, t: np.ndarray, loss: Loss, lr: float) -> None:
        """Plain SGD straight from equations (1)–(2), without storing the gradient.

        For each layer, from the output down: δ^{l−1} = (δ^l W^l) ⊙ f′(z^{l−1}) is computed with
        the *old* W^l, then W^l ← W^l + (η/B) Σ_b δ^l_b (y^l_b)ᵀ is applied in place. With B = 1
        this is the assignment's per-sample update, done as one BLAS rank-1 update (``ger``) per
        layer: W is read and written once, instead of writing a gradient and reading it back.
        The result equals ``backward`` followed by :class:`~digitlab.nn.optimizers.SGD` (up to
        rounding). Larger batches use the same in-place BLAS product (``gemm`` with β = 1).
        """
        ys, zs = trace.ys, trace.zs
        batch = ys[0].shape[0]
        delta = self.output_delta(trace, t, loss)  # δ^{L−1}: (B, n_L)
        scale = lr / batch
        for l in reversed(range(self.n_layers)):
            below = None
            if l > 0:  # equation (1), before W^l changes
                grad_y = trace.hidden_gradient(l - 1, delta @ self.weights[l])
                below = self.activations[l - 1].backward(grad_y, zs[l - 1], trace.activated(l - 1))
            # equation (2): W^l ← W^l + (η/B) δ^lᵀ y^l, in place
            blas_add_outer(self.weights[l], delta, ys[l], scale)
            if self.has_bias:
                self.biases[l] += scale * delta.sum(axis=0)
            delta = below

    def loss_and_gradients(self, x: np.ndarray, t: np.ndarray, loss: Loss) -> float:
        """Mean loss Ē over the batch; leaves ∂Ē/∂θ in :attr:`grads`."""
        trace = self.forward(x)
        self.backward(trace, t, loss)
        return float(loss.per_sample(trace.output, t).mean())

    def input_gradient(
        self, x: np.ndarray, t: np.ndarray, loss: Loss
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """∂E/∂y⁰ for each sample, the direction of equation (3): y⁰ ← y⁰ − η ∂E/∂y⁰ = y⁰ + η δ⁰W⁰.

        Returns ``(grad, E, output)``: the input gradient (B, n_0), the per-sample losses (B,) and
        the outputs (B, n_L). The weight gradients in :attr:`grads` are overwritten as a side
        effect.
        """
        trace = self.forward(x)
        grad = self.backward(trace, t, loss, input_gradient=True)
        return grad, loss.per_sample(trace.output, t), trace.output
