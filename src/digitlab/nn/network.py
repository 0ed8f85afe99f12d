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

This module is the equations and nothing else: no threads, row blocks or in-place BLAS. The
training loop's fast paths compute the same maths in another order; they live beside it in
:mod:`digitlab.nn.fused`, and :mod:`digitlab.nn.engines` chooses between the two.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import DTypeLike

from digitlab.errors import ConfigError
from digitlab.nn.activations import Activation, get_activation
from digitlab.nn.init import init_weight
from digitlab.nn.losses import CrossEntropy, Loss


@dataclass
class ForwardPass:
    """What the forward pass keeps for backpropagation (its ``z^l`` and ``y^l``).

    ``ys[0]`` is the input (B, n_0); ``ys[l + 1] = f(zs[l])`` for each layer l; ``ys[-1]`` is the
    network's output (B, n_L).
    """

    ys: list[np.ndarray]
    zs: list[np.ndarray]
    #: dropout (see :mod:`digitlab.nn.dropout`): the scaled mask m^l (B, n_{l+1}) of each layer
    #: or None, and f(z^l) before the mask was applied (ys[l + 1] = f(z^l) ⊙ m^l)
    masks: list[np.ndarray | None] | None = None
    undropped: list[np.ndarray | None] | None = None

    @property
    def output(self) -> np.ndarray:
        return self.ys[-1]

    def activated(self, l: int) -> np.ndarray:
        """f(z^l) as the activation computed it, before dropout (f′ may be taken from it)."""
        if self.undropped is not None and self.undropped[l] is not None:
            return self.undropped[l]
        return self.ys[l + 1]

    def hidden_gradient(self, l: int, grad_y: np.ndarray) -> np.ndarray:
        """∂E/∂f(z^l) from ∂E/∂y^{l+1}: times the dropout mask m^l where layer l has one."""
        if self.masks is not None and self.masks[l] is not None:
            return grad_y * self.masks[l]
        return grad_y


def drop_out(fp_ys: list[np.ndarray], undropped: list[np.ndarray | None],
             masks: list[np.ndarray | None] | None, l: int) -> None:
    """Inverted dropout on the output just appended to ``fp_ys`` (layer l): y^{l+1} = f(z^l) ⊙
    m^l, keeping f(z^l) in ``undropped``; nothing but a None entry without a mask."""
    if masks is not None and masks[l] is not None:
        undropped.append(fp_ys[-1])
        fp_ys[-1] = fp_ys[-1] * masks[l]
    else:
        undropped.append(None)


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
        dtype: DTypeLike = np.float32,
        rng: np.random.Generator | None = None,
    ) -> None:
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

    def __repr__(self) -> str:
        return (f"MLP({'-'.join(map(str, self.sizes))}, {', '.join(self.activation_names)}, "
                f"bias={self.has_bias}, {self.dtype.name}, {self.params.size:,} parameters)")

    def copy(self) -> MLP:
        """An independent network with the same architecture and weights."""
        return self.astype(self.dtype)

    def astype(self, dtype: DTypeLike) -> MLP:
        """A copy of this network in another floating-point type (e.g. float64 for checks)."""
        clone = MLP(
            self.sizes, self.activation_names, bias=self.has_bias, init=self.init,
            dtype=dtype, rng=np.random.default_rng(0),
        )
        clone.params[...] = self.params
        return clone

    # ------------------------------------------------------------------ forward
    def forward(self, x: np.ndarray, masks: list[np.ndarray | None] | None = None
                ) -> ForwardPass:
        """Forward pass keeping every z^l and y^l for backpropagation. ``x``: (B, n_0).

        Each layer computes the assignment's column form z^l = W^l y^l + b^l, one column per
        sample: (n_{l+1}, B) = (n_{l+1}, n_l) @ (n_l, B). At small batches BLAS does this about
        twice as fast as the row form y Wᵀ; the pass holds (B, n) views of those arrays.
        With dropout ``masks`` (training only; see :mod:`digitlab.nn.dropout`) each hidden
        output is y^{l+1} = f(z^l) ⊙ m^l, and the pass keeps the masks for backpropagation.
        """
        ys, zs, undropped = [np.asarray(x, dtype=self.dtype)], [], []
        for l, (W, b, f) in enumerate(zip(self.weights, self.biases, self.activations,
                                          strict=True)):
            z_columns = W @ ys[-1].T  # (n_{l+1}, n_l) @ (n_l, B)
            if b is not None:
                z_columns += b[:, np.newaxis]
            zs.append(z_columns.T)
            ys.append(f.forward(zs[-1]))
            drop_out(ys, undropped, masks, l)
        return ForwardPass(ys, zs) if masks is None else ForwardPass(ys, zs, masks, undropped)

    def predict(self, x: np.ndarray, batch_size: int = 2048) -> np.ndarray:
        """Outputs y^L of shape (N, n_L) for inputs (N, n_0), in batches, keeping nothing."""
        return self.output_layer(x, batch_size)[1]

    def output_layer(self, x: np.ndarray,
                     batch_size: int = 2048) -> tuple[np.ndarray, np.ndarray]:
        """(z^{L−1}, y^L): the output layer's pre-activations and outputs, each (N, n_L),
        through :meth:`forward` ``batch_size`` inputs at a time (only the last layer kept)."""
        x = np.asarray(x)
        z_out = np.empty((len(x), self.sizes[-1]), dtype=self.dtype)
        y_out = np.empty_like(z_out)
        for start in range(0, len(x), batch_size):
            fp = self.forward(x[start : start + batch_size])
            z_out[start : start + batch_size] = fp.zs[-1]
            y_out[start : start + batch_size] = fp.output
        return z_out, y_out

    def probabilities(self, x: np.ndarray, batch_size: int = 2048) -> np.ndarray:
        """Class probabilities (N, n_L).

        A softmax output is returned as is. For other outputs (e.g. tanh with ±1 targets) each
        output is measured from its "off" value ``low`` (−1 for tanh) and the results are
        normalised to sum to one: p_k = (y_k − low) / Σ_j (y_j − low). A perfect answer
        (+1 for one digit, −1 for the others) thus gets probability 1.
        """
        z, y = self.output_layer(x, batch_size)
        return self.output_to_probabilities(y, z)

    def output_to_probabilities(self, y: np.ndarray, z: np.ndarray | None = None) -> np.ndarray:
        """Probabilities from outputs y^L (N, n_L); see :meth:`probabilities`.

        With the pre-activations ``z`` the distances y_k − low come from z
        (:meth:`Activation.above_low`), exact even where every output lies within rounding of
        ``low``, as when the network answers "none of the digits".
        """
        f = self.output_activation
        if f.name == "softmax":
            return y
        above = f.above_low(z, y) if z is not None else y - f.low
        shifted = np.maximum(above, 0.0)
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
    def output_delta(self, fp: ForwardPass, t: np.ndarray, loss: Loss) -> np.ndarray:
        """δ^{L−1} = −∂E/∂z^{L−1} of shape (B, n_L), per sample; equation (1), first part.

        For E = ½‖y − t‖² and an elementwise f this is −(y^L − t) ⊙ f′(z^{L−1}). For softmax
        with cross-entropy the fused form ∂E/∂z = y − t is used (exact and stable).
        """
        y, z = fp.ys[-1], fp.zs[-1]
        f = self.output_activation
        if isinstance(loss, CrossEntropy):
            if f.name != "softmax":
                raise ConfigError(f"the ce loss needs a softmax output layer, not {f.name}")
            return t - y  # −(y − t)
        return -f.backward(loss.output_gradient(y, t), z, y)

    def backward(
        self, fp: ForwardPass, t: np.ndarray, loss: Loss, *, input_gradient: bool = False
    ) -> np.ndarray | None:
        """Backpropagation: fill :attr:`grads` with ∂Ē/∂θ, Ē the mean of E over the batch.

        Equation (1) carries δ^l = −∂E/∂z^l down the layers,
        ``δ^l = (δ^{l+1} W^{l+1}) ⊙ f′(z^l)``, and equation (2)'s update direction
        ``δ^l_i y^l_j`` gives the gradient ``∂Ē/∂W^l = −(1/B) Σ_b δ^l_b (y^l_b)ᵀ``. A plain SGD
        step ``W ← W − η ∂Ē/∂W`` with B = 1 is therefore exactly equation (2).

        Returns ∂E_b/∂y⁰_b of shape (B, n_0) (each sample's own input gradient, not averaged)
        when ``input_gradient`` is true, else None (and skips that matrix product).
        """
        ys, zs = fp.ys, fp.zs
        batch = ys[0].shape[0]
        delta = self.output_delta(fp, t, loss)  # δ^{L−1}: (B, n_L)
        for l in reversed(range(self.n_layers)):
            delta_columns = delta.T  # (n_{l+1}, B), the column form used in forward
            scaled_columns = delta_columns * (-1.0 / batch)  # −δ^l / B
            # ∂Ē/∂W^l = −(1/B) Σ_b δ^l_b (y^l_b)ᵀ: (n_{l+1}, B) @ (B, n_l) -> (n_{l+1}, n_l)
            np.matmul(scaled_columns, ys[l], out=self.weight_grads[l])
            if self.has_bias:
                np.sum(scaled_columns, axis=1, out=self.bias_grads[l])
            # δ^l W^l for each sample, computed as (W^l)ᵀ δ^l: (n_l, n_{l+1}) @ (n_{l+1}, B)
            if l > 0:  # equation (1): δ^{l−1} = (δ^l W^l) ⊙ f′(z^{l−1}) (⊙ m^{l−1}: dropout)
                grad_y = fp.hidden_gradient(l - 1, (self.weights[l].T @ delta_columns).T)
                delta = self.activations[l - 1].backward(grad_y, zs[l - 1], fp.activated(l - 1))
            elif input_gradient:  # ∂E/∂y⁰ = −δ⁰ W⁰: (B, n_0)
                return -(self.weights[0].T @ delta_columns).T
        return None

    def loss_and_gradients(self, x: np.ndarray, t: np.ndarray, loss: Loss) -> float:
        """Mean loss Ē over the batch; leaves ∂Ē/∂θ in :attr:`grads`."""
        fp = self.forward(x)
        self.backward(fp, t, loss)
        return float(loss.per_sample(fp.output, t).mean())

    def input_gradient(
        self, x: np.ndarray, t: np.ndarray, loss: Loss
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """∂E/∂y⁰ for each sample, the direction of equation (3): y⁰ ← y⁰ − η ∂E/∂y⁰ = y⁰ + η δ⁰W⁰.

        Returns ``(grad, E, output)``: the input gradient (B, n_0), the per-sample losses (B,) and
        the outputs (B, n_L). The weight gradients in :attr:`grads` are overwritten as a side
        effect.
        """
        fp = self.forward(x)
        grad = self.backward(fp, t, loss, input_gradient=True)
        return grad, loss.per_sample(fp.output, t), fp.output
