"""What a network answers to a batch of images, in every form the analysis needs.

For inputs x (N, 784) one forward pass gives the output layer's pre-activation z^{L−1} (the
"logits", (N, 10)) and its output y^L = f(z^{L−1}) (N, 10). From them:

* ``predicted``: the answered digit, argmax_k y_k;
* ``confidence``: the top probability max_k p_k, with p as :meth:`MLP.output_to_probabilities`
  defines it (the softmax output as is; for tanh outputs p_k = (y_k + 1) / Σ_j (y_j + 1));
* ``margin``: top output minus second output, y_(1) − y_(2) — for ±1 targets a sure answer has
  a margin near 2, an undecided one near 0;
* ``energy``: E(x) = −log Σ_k exp(z_k), the energy score of Liu et al. (2020), computed from the
  pre-activation z for every output activation (for softmax, z are the logits themselves). Lower
  energy means "more like the training data".
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from digitlab.calibration import calibration_of, logits_from_outputs
from digitlab.nn.network import MLP


@dataclass
class Responses:
    """A network's answers to N images; every array has N rows."""

    logits: np.ndarray  # (N, 10) z^{L−1}, before the output activation
    outputs: np.ndarray  # (N, 10) y^L
    probabilities: np.ndarray  # (N, 10) p, rows sum to 1

    @property
    def predicted(self) -> np.ndarray:
        """(N,) the answered digit."""
        return self.outputs.argmax(axis=1)

    @property
    def confidence(self) -> np.ndarray:
        """(N,) the top probability max_k p_k."""
        return self.probabilities.max(axis=1)

    @property
    def margin(self) -> np.ndarray:
        """(N,) top output minus second output."""
        top_two = np.sort(self.outputs, axis=1)[:, -2:]  # (N, 2) ascending
        return top_two[:, 1] - top_two[:, 0]

    @property
    def energy(self) -> np.ndarray:
        """(N,) E = −logsumexp(z), computed stably as −(m + log Σ exp(z − m)), m = max z."""
        z = self.logits.astype(np.float64)
        m = z.max(axis=1, keepdims=True)  # (N, 1)
        return -(m[:, 0] + np.log(np.exp(z - m).sum(axis=1)))

    @property
    def second_choice(self) -> np.ndarray:
        """(N,) the digit with the second largest output."""
        return np.argsort(self.outputs, axis=1, kind="stable")[:, -2]


def respond(network: MLP, images: np.ndarray, batch_size: int = 2048) -> Responses:
    """Run ``network`` on images (N, 784) and keep its logits, outputs and probabilities (the
    calibrated ones when ``network`` is a calibrated model, e.g. a ``SavedModel.model``)."""
    n_out = network.sizes[-1]
    logits = np.empty((len(images), n_out), dtype=network.dtype)
    outputs = np.empty_like(logits)
    calibration = calibration_of(network)
    layer = calibration.hidden.layer if calibration is not None and calibration.flattens else None
    features = [] if layer is not None else None  # the hidden layer the calibration reads
    for start in range(0, len(images), batch_size):
        trace = network.forward(images[start : start + batch_size])
        logits[start : start + batch_size] = trace.zs[-1]  # (B, 10) pre-activation
        outputs[start : start + batch_size] = trace.output  # (B, 10)
        if features is not None:
            features.append(trace.ys[layer])
    if calibration is None:
        return Responses(logits, outputs, network.output_to_probabilities(outputs, logits))
    probabilities = calibration.apply(
        logits_from_outputs(network.output_activation, logits, outputs),
        None if features is None else np.concatenate(features)).astype(network.dtype)
    return Responses(logits, outputs, probabilities)
