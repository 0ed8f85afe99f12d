"""Class frequencies of the training and test splits, and the largest imbalance."""

from __future__ import annotations

from typing import Any

import numpy as np

from digitlab.shapes import N_CLASSES


def class_balance(train_labels: np.ndarray, test_labels: np.ndarray,
                  n_classes: int = N_CLASSES) -> dict[str, Any]:
    """Counts and shares per digit for both splits (10 each), and ``largest_imbalance``: the
    training split's most and least frequent digit, their counts and the ratio of the two."""
    train = np.bincount(train_labels, minlength=n_classes)  # (10,)
    test = np.bincount(test_labels, minlength=n_classes)  # (10,)
    most, least = int(train.argmax()), int(train.argmin())
    return {
        "train_counts": train.tolist(),
        "test_counts": test.tolist(),
        "train_shares": (train / max(train.sum(), 1)).tolist(),
        "test_shares": (test / max(test.sum(), 1)).tolist(),
        "largest_imbalance": {
            "split": "train", "most": most, "most_count": int(train[most]),
            "least": least, "least_count": int(train[least]),
            "ratio": float(train[most] / train[least]) if train[least] else None,
        },
    }
