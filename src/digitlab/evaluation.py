"""Evaluation: how well a trained network reads a labelled set of digits.

One forward pass over the images gives the outputs y^L (N, 10); from them come the predicted
digits (the largest output), the class probabilities, the mean loss E and, through
:mod:`digitlab.metrics`, the confusion matrix and the per-digit accuracy.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from digitlab import metrics
from digitlab.calibration import (
    Calibration,
    calibration_fields,
    calibration_of,
    expected_calibration_error,
    logits_from_outputs,
)
from digitlab.errors import DataError
from digitlab.formatting import finite_or_none
from digitlab.models import Model
from digitlab.nn.losses import Loss, get_loss

if TYPE_CHECKING:  # matplotlib is imported when a figure is drawn, not with this module
    from matplotlib.figure import Figure


@dataclass
class Evaluation:
    """The result of :func:`evaluate`.

    Attributes
    ----------
    accuracy : float
        Share of images whose digit was read correctly (NaN for an empty set).
    mean_loss : float
        Mean per-sample E over the set, the same quantity training reports.
    n : int
        Number of images.
    per_digit_accuracy : ndarray of shape (10,)
        For each true digit, the share of its images read correctly (NaN if it has none).
    confusion_matrix : ndarray of shape (10, 10), int64
        ``C[i, j]`` = number of images of digit i read as j (rows = true digit).
    predictions : ndarray of shape (N,), int64
        The digit read for each image.
    probabilities : ndarray of shape (N, 10)
        Class probabilities (see :meth:`digitlab.nn.MLP.probabilities`), calibrated when the
        network evaluated was (a ``SavedModel.model`` of a calibrated run).
    loss : str
        Name of the loss E was measured with.
    ece : float
        Expected calibration error (15 bins) of those probabilities (NaN for an empty set).
    calibration : Calibration or None
        The calibration the probabilities went through (None: the network's own).
    """

    accuracy: float
    mean_loss: float
    n: int
    per_digit_accuracy: np.ndarray
    confusion_matrix: np.ndarray
    predictions: np.ndarray
    probabilities: np.ndarray
    loss: str = ""
    ece: float = float("nan")
    calibration: Calibration | None = None

    @property
    def calibrated(self) -> bool:
        """Whether :attr:`probabilities` (and so :attr:`ece`) are calibrated."""
        return self.calibration is not None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready summary (no per-image arrays; NaN written as null)."""
        return {
            "accuracy": finite_or_none(self.accuracy),
            "mean_loss": finite_or_none(self.mean_loss),
            "loss": self.loss,
            "n": self.n,
            "per_digit_accuracy": [finite_or_none(v) for v in self.per_digit_accuracy],
            "per_digit_count": self.confusion_matrix.sum(axis=1).tolist(),
            "confusion_matrix": self.confusion_matrix.tolist(),
            "confused_pairs": metrics.confused_pairs(self.confusion_matrix, top=10),
            "ece": finite_or_none(self.ece),
            **calibration_fields(self.calibration),
        }


    def plot(self, title: str = "Confusion matrix of the test split") -> Figure:
        """The confusion matrix as a heat map (matplotlib Figure), rows = true digit."""
        from digitlab.plots.analysis import confusion_matrix_figure

        return confusion_matrix_figure(self.confusion_matrix, title)

    def _repr_html_(self) -> str:
        """Jupyter shows an evaluation as its accuracy and its shaded confusion matrix."""
        from digitlab.plots.inline import confusion_html

        right = int(np.trace(self.confusion_matrix))
        head = (f"<p><b>accuracy {self.accuracy:.2%}</b> ({right} of {self.n} digits), mean E "
                f"{self.mean_loss:.4f} ({self.loss} loss)</p>")
        return head + confusion_html(self.confusion_matrix, self.per_digit_accuracy,
                                     "rows: true digit; columns: digit read")

    def __repr__(self) -> str:
        return (f"Evaluation(accuracy={self.accuracy:.4f}, mean_loss={self.mean_loss:.4f}, "
                f"n={self.n}, loss={self.loss!r})")


def evaluate(
    network: Model,
    images: np.ndarray,
    labels: np.ndarray,
    loss: str | Loss,
    batch_size: int = 2048,
) -> Evaluation:
    """Evaluate ``network`` on images (N, 784) with integer labels (N,) under ``loss``.

    ``loss`` is a loss name (``"mse"``, ``"ce"``) or a :class:`~digitlab.nn.losses.Loss`.
    The digits read and E never depend on a calibration (T > 0 keeps the order of the
    outputs); the probabilities and their ECE are calibrated when ``network`` is (a
    ``SavedModel.model`` of a calibrated run).
    """
    loss = get_loss(loss) if isinstance(loss, str) else loss
    images, labels = np.asarray(images), np.asarray(labels)
    if images.ndim != 2 or images.shape[1] != network.sizes[0]:
        raise DataError(
            f"images must have shape (N, {network.sizes[0]}), got {images.shape}"
        )
    if labels.shape != (len(images),):
        raise DataError(f"labels must have shape ({len(images)},), got {labels.shape}")
    n_classes = network.sizes[-1]
    if len(labels) and (labels.min() < 0 or labels.max() >= n_classes):
        raise DataError(f"labels must lie in 0..{n_classes - 1}")

    logits, outputs = network.output_layer(images, batch_size)  # (N, 784) -> (N, 10) each
    predictions = outputs.argmax(axis=1)  # (N,)
    confusion = metrics.confusion_matrix(labels, predictions, n_classes)  # (10, 10)
    if len(labels):
        mean_loss = float(loss.per_sample(outputs, network.targets(labels, loss)).mean())
    else:
        mean_loss = float("nan")
    calibration = calibration_of(network)
    if calibration is None:
        probabilities = network.output_to_probabilities(outputs, logits)
    else:
        probabilities = calibration.apply(
            logits_from_outputs(network.output_activation, logits, outputs)
        ).astype(outputs.dtype) if not calibration.flattens else network.probabilities(
            images, batch_size).astype(outputs.dtype)  # the hidden layer flattens them too
    ece = expected_calibration_error(probabilities, labels) if len(labels) else float("nan")
    return Evaluation(
        accuracy=metrics.accuracy(confusion),
        mean_loss=mean_loss,
        n=int(len(labels)),
        per_digit_accuracy=metrics.recall(confusion),
        confusion_matrix=confusion,
        predictions=predictions.astype(np.int64),
        probabilities=probabilities,
        loss=loss.name,
        ece=ece,
        calibration=calibration,
    )
