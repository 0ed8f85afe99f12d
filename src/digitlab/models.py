"""What a model is to the code that reads digits with it: the :class:`Model` protocol.

A single network (:class:`~digitlab.nn.network.MLP`), a network behind its preprocessing
(:class:`~digitlab.preprocessing.Preprocessed`) and an ensemble
(:class:`~digitlab.ensembles.Ensemble`) all meet it, so evaluation, the analysis, dreaming, the
web lab and the exporter take any of them. Images come in as rows (N, n_inputs); answers go out
as rows (N, n_classes).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol, runtime_checkable

import numpy as np

if TYPE_CHECKING:
    from digitlab.nn.activations import Activation
    from digitlab.nn.losses import Loss
    from digitlab.nn.network import ForwardPass


@runtime_checkable
class Model(Protocol):
    """Anything that reads images (N, n_inputs) into answers (N, n_classes).

    ``sizes`` are the layer widths from input to output (``sizes[0]`` inputs, ``sizes[-1]``
    classes); ``output_activation`` tells how the outputs read as probabilities.
    """

    sizes: list[int]
    activation_names: list[str]
    dtype: np.dtype

    @property
    def output_activation(self) -> Activation:
        """The output layer's f, which tells how its outputs read as probabilities."""
        ...

    def predict(self, x: np.ndarray, batch_size: int = ...) -> np.ndarray:
        """The outputs y^L (N, n_classes)."""
        ...

    def probabilities(self, x: np.ndarray, batch_size: int = ...) -> np.ndarray:
        """Class probabilities (N, n_classes), each row summing to one."""
        ...

    def classify(self, x: np.ndarray, batch_size: int = ...) -> np.ndarray:
        """The most probable class of each image, (N,)."""
        ...

    def forward(self, x: np.ndarray,
                masks: list[np.ndarray | None] | None = ...) -> ForwardPass:
        """The trace of one pass: ``ys[-1]`` (B, n_classes), ``zs[-1]`` the logits."""
        ...

    def output_layer(self, x: np.ndarray, batch_size: int = ...) -> tuple[np.ndarray, np.ndarray]:
        """(z, y) of the output layer, each (N, n_classes)."""
        ...

    def output_to_probabilities(self, y: np.ndarray, z: np.ndarray | None = ...) -> np.ndarray:
        """Probabilities (N, n_classes) from the outputs y (and logits z) of the output layer."""
        ...

    def targets(self, labels: np.ndarray, loss: Loss) -> np.ndarray:
        """The target vectors t (N, n_classes) of ``labels`` (N,) for ``loss``."""
        ...
