"""Why the network gave its answer: the input gradient as a saliency map, and its hidden units.

**Saliency.** For the answer k with probability p_k (see :meth:`MLP.probabilities`), the map is
``s = ∂ log p_k / ∂y⁰`` (784,): positive where more ink pushes toward the answer, negative where
it pushes away. It is computed by backpropagation to the input (:meth:`MLP.input_gradient`, the
building block of equation (3)) of the loss E = −log p_k:

- softmax outputs: p = y, and E is the cross-entropy with target e_k (∂E/∂z = y − e_k);
- other outputs (tanh with ±1 targets): p_k = (y_k − low) / Σ_j (y_j − low), so
  ``∂E/∂y_j = 1/Σ − [j = k]/(y_k − low)`` for the outputs above ``low``.

**Hidden units.** Each unit j of the first hidden layer contributes to the answer's
pre-activation z_k about ``h_j ∂z_k/∂h_j`` (activation × gradient, exact for one hidden layer
where ∂z_k/∂h_j = W¹_kj). The strongest contributors are returned with their incoming weights
W⁰_j (784,), which show what each unit looks for.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from digitlab.calibration import Calibration, calibration_fields, hidden_activations
from digitlab.nn.losses import CrossEntropy, Loss
from digitlab.nn.network import MLP
from digitlab.preprocessing import preprocess

MAX_UNITS = 8  # hidden units returned with an explanation
MAX_LINKS = 16  # strongest connections into the answer returned with the layers
TINY = 1e-12  # smallest probability taken the logarithm of


class AnswerLogProbability(Loss):
    """E = −log p_k for the normalised non-softmax outputs (see the module docstring).

    ``t`` is one-hot (B, n): t_k = 1 marks the answer k. ``low`` is the output activation's
    "off" value (−1 for tanh).
    """

    name = "answer-log-probability"

    def __init__(self, low: float):
        self.low = low

    def per_sample(self, y, t):
        shifted = np.maximum(y - self.low, 0.0)  # (B, n)
        total = shifted.sum(axis=1)
        answer = (shifted * t).sum(axis=1)
        return np.log(np.maximum(total, TINY)) - np.log(np.maximum(answer, TINY))

    def output_gradient(self, y, t):
        shifted = np.maximum(y - self.low, 0.0)  # (B, n)
        above = shifted > 0
        total = np.maximum(shifted.sum(axis=1, keepdims=True), TINY)
        answer = np.maximum((shifted * t).sum(axis=1, keepdims=True), TINY)
        return np.where(above, 1.0 / total - t / answer, 0.0).astype(y.dtype)


def answer_loss(network: MLP) -> Loss:
    """The loss −log p_k whose input gradient is minus the saliency."""
    if network.output_activation.name == "softmax":
        return CrossEntropy()
    return AnswerLogProbability(network.output_activation.low)


def saliency(network: MLP, image: np.ndarray, answer: int) -> np.ndarray:
    """∂ log p_answer / ∂ input for one image (784,) -> (784,), float64."""
    x = np.asarray(image, dtype=network.dtype).reshape(1, -1)
    t = np.zeros((1, network.sizes[-1]), dtype=network.dtype)
    t[0, answer] = 1.0
    grad, _, _ = network.input_gradient(x, t, answer_loss(network))
    return -grad[0].astype(np.float64)


def hidden_units(network: MLP, image: np.ndarray, answer: int,
                 count: int = MAX_UNITS) -> list[dict[str, Any]]:
    """The first hidden layer's ``count`` strongest supporters of ``answer`` (see above)."""
    if network.n_layers < 2:
        return []
    trace = network.forward(np.asarray(image, dtype=network.dtype).reshape(1, -1))
    # ∂z_k/∂z^{L−1} = e_k, carried down to ∂z_k/∂y¹ by the chain rule of equation (1)
    grad_z = np.zeros((1, network.sizes[-1]), dtype=np.float64)
    grad_z[0, answer] = 1.0
    for l in range(network.n_layers - 1, 0, -1):
        grad_y = grad_z @ network.weights[l].astype(np.float64)  # ∂z_k/∂y^l: (1, n_l)
        if l == 1:
            break
        grad_z = network.activations[l - 1].backward(grad_y, trace.zs[l - 1], trace.ys[l])
    activation = trace.ys[1][0].astype(np.float64)  # (n_1,)
    contribution = activation * grad_y[0]
    strongest = np.argsort(-contribution, kind="stable")[:count]
    return [{
        "layer": 1,
        "unit": int(j),
        "activation": float(activation[j]),
        "contribution": float(contribution[j]),
        "weights": network.weights[0][j].astype(np.float64).tolist(),
    } for j in strongest]


def layer_outputs(network: MLP, image: np.ndarray, answer: int,
                  count: int = MAX_LINKS) -> dict[str, Any]:
    """Every hidden layer's outputs y¹ … y^{L−1} for one image (lists, 4 decimals), and the
    ``count`` strongest connections into ``answer``'s pre-activation from the last hidden layer:
    unit j, its weight W_kj and its share a_j W_kj of z_k (largest magnitude first)."""
    if network.n_layers < 2:
        return {"layers": [], "links": []}
    trace = network.forward(np.asarray(image, dtype=network.dtype).reshape(1, -1))
    layers = [np.round(trace.ys[l][0].astype(np.float64), 4).tolist()
              for l in range(1, network.n_layers)]
    last = trace.ys[network.n_layers - 1][0].astype(np.float64)
    weights = network.weights[-1][answer].astype(np.float64)  # W_k· of the output layer
    shares = last * weights
    strongest = np.argsort(-np.abs(shares), kind="stable")[:count]
    links = [{"unit": int(j), "weight": float(weights[j]), "contribution": float(shares[j])}
             for j in strongest]
    return {"layers": layers, "links": links}


def read(network: MLP, images: np.ndarray, preprocessing: list[str] | tuple[str, ...] = (),
         calibration: Calibration | None = None) -> np.ndarray:
    """Probabilities (B, 10) of prepared images (B, 784): the model's preprocessing steps,
    then the network's probabilities, calibrated with ``calibration`` when given — what
    ``load_model(run).model.probabilities`` and ``digitlab predict`` give."""
    seen = preprocess(np.asarray(images).reshape(len(images), -1), list(preprocessing))
    if calibration is None:
        return network.probabilities(seen)  # (B, 10)
    return calibration.probabilities(network, seen)


def read_and_decide(network: MLP, images: np.ndarray,
                    preprocessing: list[str] | tuple[str, ...] = (),
                    calibration: Calibration | None = None) -> tuple[np.ndarray, np.ndarray]:
    """:func:`read`'s probabilities (B, 10) and whether each image passes the calibration's
    "not a digit" tests (B,) bool (all True without a calibration), from one forward pass."""
    seen = preprocess(np.asarray(images).reshape(len(images), -1), list(preprocessing))
    if calibration is None:
        return network.probabilities(seen), np.ones(len(seen), dtype=bool)
    return calibration.decide(network, seen)


def flattening_of(network: MLP, seen: np.ndarray, calibration: Calibration | None
                  ) -> dict[str, float | None]:
    """``{"typicality", "flattening"}`` of one prepared image (784,): the share r of the
    calibration digits less digit-like inside the network, and the factor h = max(1, q / r)
    its answer's temperature was multiplied by (:class:`~digitlab.calibration.HiddenCheck`);
    both None where the calibration flattens nothing."""
    if calibration is None or not calibration.flattens:
        return {"typicality": None, "flattening": None}
    hidden = calibration.hidden
    features = hidden_activations(network, seen.reshape(1, -1), hidden.layer)  # (1, n_layer)
    typicality = hidden.typicality(features)
    return {"typicality": float(typicality[0]),
            "flattening": float(hidden.flattening_of_typicality(typicality)[0])}


def answer(network: MLP, image: np.ndarray, explain: bool = False,
           preprocessing: list[str] | tuple[str, ...] = (),
           calibration: Calibration | None = None, layers: bool = False,
           probabilities: np.ndarray | None = None, is_digit: bool | None = None
           ) -> dict[str, Any]:
    """The network's answer to one prepared image (784,): digit, probabilities, whether they
    are calibrated and whether the image is a digit at all, and, with ``explain``, the
    saliency map and the strongest hidden units.

    A model trained with ``preprocessing`` steps (e.g. deskew) reads the image after them; the
    saliency is then taken with respect to that preprocessed input. With a ``calibration`` the
    probabilities are softmax(s / T) (the digit read is the same), and where its "not a digit"
    tests fail (the threshold, the hidden-layer test) the image is "not a digit" (``is_digit``
    false); the saliency stays that of the network's own
    log p_k. With ``layers``, every hidden layer's outputs and the strongest connections into
    the answer (:func:`layer_outputs`). ``probabilities`` (10,): those of :func:`read` for
    this image when already computed (with other images, in one pass: serve/batching.py).
    With a calibration that flattens unusual answers, how digit-like the image looks inside
    the network and how much its answer was flattened (:func:`flattening_of`)."""
    image = np.asarray(image).reshape(-1)  # (784,)
    if probabilities is None:
        probabilities = read(network, image.reshape(1, -1), preprocessing, calibration)[0]
    digit = int(np.argmax(probabilities))
    seen = preprocess(image.reshape(1, -1), list(preprocessing))[0]  # (784,)
    result: dict[str, Any] = {
        "digit": digit,
        "probabilities": np.asarray(probabilities, np.float64).tolist(),
        "is_digit": bool(is_digit) if is_digit is not None else calibration is None or bool(
            calibration.accepts(network, seen.reshape(1, -1),
                                np.asarray(probabilities).reshape(1, -1))[0]),
        **calibration_fields(calibration),
        "prepared": image.astype(np.float64).tolist(),
    }
    result.update(flattening_of(network, seen, calibration))
    if explain:
        result["saliency"] = saliency(network, seen, digit).tolist()
        result["hidden"] = hidden_units(network, seen, digit)
    if layers:
        result.update(layer_outputs(network, seen, digit))
    return result
