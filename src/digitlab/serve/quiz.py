"""Would you make the same mistake? The quiz over a network's misclassified test images.

The mistakes are those of the run's own test split (reproduced from its config), ranked most
confidently wrong first (:func:`digitlab.analysis.mistakes.mistakes_by_confidence`). A question
shows an image without its label; the answer reveals the label and the network's reading.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from digitlab.analysis.mistakes import mistakes_by_confidence
from digitlab.calibration import calibration_fields
from digitlab.serve import inputs
from digitlab.serve.errors import ApiError
from digitlab.serve.language import _
from digitlab.serve.models import LoadedModel
from digitlab.shapes import N_CLASSES


def ranked_mistakes(model: LoadedModel) -> np.ndarray:
    """Test-split indices of the network's mistakes, most confident first (cached)."""
    test = model.test_split()
    if "mistakes" not in test:
        probabilities = test["probabilities"]  # (N, 10)
        test["mistakes"] = mistakes_by_confidence(
            test["labels"], probabilities.argmax(axis=1), probabilities.max(axis=1))
    return test["mistakes"]


def question(model: LoadedModel, index: int) -> dict[str, Any]:
    """The ``index``-th mistake (mod their count), without its label."""
    mistakes = ranked_mistakes(model)
    if len(mistakes) == 0:
        return {"model": model.entry.id, "index": None, "count": 0, "image": None}
    k = index % len(mistakes)
    image = model.test_split()["images"][mistakes[k]]
    return {"model": model.entry.id, "index": k, "count": int(len(mistakes)),
            "image": np.asarray(image, dtype=np.float64).tolist()}


def answer(model: LoadedModel, index: Any, guess: Any) -> dict[str, Any]:
    """How the person's ``guess`` compares with the truth and with the network's answer."""
    index = inputs.integer(index, "index", 0)
    guess = inputs.integer(guess, "guess", 0, N_CLASSES - 1)
    mistakes = ranked_mistakes(model)
    if len(mistakes) == 0:
        raise ApiError(404, _("model {model!r} makes no mistake on its test split").format(
            model=model.entry.id))
    test = model.test_split()
    row = mistakes[index % len(mistakes)]
    probabilities = test["probabilities"][row].astype(np.float64)
    true_label, network_answer = int(test["labels"][row]), int(probabilities.argmax())
    return {"true_label": true_label, "network_answer": network_answer,
            "network_probabilities": probabilities.tolist(),
            **calibration_fields(model.calibration),
            "person_right": guess == true_label, "network_right": network_answer == true_label,
            "same_mistake": guess == network_answer}
