"""What is done to an image between the 784 pixel values and the network's input.

A network trained on deskewed digits (``TrainConfig.deskew``) must be fed deskewed digits at
evaluation and prediction too. :func:`with_preprocessing` wraps such a network so that every
way of feeding it — ``predict``, ``probabilities``, ``classify`` — applies the same steps; the
model file records the steps (see :mod:`digitlab.modelio`), so a loaded model is always fed as
it was trained.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any

import numpy as np

from digitlab.data.deskew import deskew
from digitlab.errors import ConfigError

if TYPE_CHECKING:
    from digitlab.data.datasets import Dataset
    from digitlab.models import Model
    from digitlab.nn.network import ForwardPass

#: the steps digitlab knows, in the order they are applied: name -> images (N, 784) -> (N, 784)
STEPS = {"deskew": deskew}


def preprocess(images: np.ndarray, steps: list[str] | tuple[str, ...]) -> np.ndarray:
    """``images`` (N, 784) after each named step in turn (a copy only when a step runs)."""
    for name in steps:
        if name not in STEPS:
            raise ConfigError(f"unknown preprocessing step {name!r}; expected one of "
                              f"{', '.join(STEPS)}")
        images = STEPS[name](images)
    return images


def preprocess_dataset(dataset: Dataset, steps: list[str]) -> Dataset:
    """A copy of ``dataset`` whose splits' images went through ``steps`` (itself if none)."""
    if not steps:
        return dataset
    changed = {}
    for name in ("train", "validation", "test"):
        split = getattr(dataset, name, None)
        if split is not None:
            changed[name] = dataclasses.replace(split, images=preprocess(split.images, steps))
    return dataclasses.replace(dataset, **changed)


def config_steps(config: object) -> list[str]:
    """The preprocessing steps a training config asks for."""
    return ["deskew"] if getattr(config, "deskew", False) else []


class Preprocessed:
    """A network whose inputs pass through ``steps`` first; otherwise the network itself.

    ``predict``, ``probabilities`` and ``classify`` take raw images (N, 784); every other
    attribute (sizes, weights, targets, ...) is the wrapped network's.
    """

    def __init__(self, network: Model, steps: list[str]) -> None:
        self.network = network
        self.steps = list(steps)

    def predict(self, x: np.ndarray, batch_size: int = 2048) -> np.ndarray:
        return self.network.predict(preprocess(x, self.steps), batch_size)

    def output_layer(self, x: np.ndarray, batch_size: int = 2048
                     ) -> tuple[np.ndarray, np.ndarray]:
        """(z, y) of the output layer for raw images (see :meth:`MLP.output_layer`)."""
        return self.network.output_layer(preprocess(x, self.steps), batch_size)

    def probabilities(self, x: np.ndarray, batch_size: int = 2048) -> np.ndarray:
        z, y = self.output_layer(x, batch_size)
        return self.network.output_to_probabilities(y, z)

    def classify(self, x: np.ndarray, batch_size: int = 2048) -> np.ndarray:
        return self.predict(x, batch_size).argmax(axis=1)

    def forward(self, x: np.ndarray,
                masks: list[np.ndarray | None] | None = None) -> ForwardPass:
        """The network's forward pass on the prepared inputs (ys[0] is the prepared input)."""
        return self.network.forward(preprocess(x, self.steps), masks)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.network, name)


def with_preprocessing(network: Model, steps: list[str]) -> Model:
    """``network`` itself when there are no steps, else a :class:`Preprocessed` wrapper."""
    return Preprocessed(network, steps) if steps else network
