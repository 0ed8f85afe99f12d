"""Cosine similarity between rows of images, computed in blocks that stay small.

    cos(a, b) = a·b / (‖a‖ ‖b‖),   0 where either row is all zero.

Used to judge dreams (:mod:`digitlab.dreaming.judges`: the most similar held-out digit) and to
keep outliers unlike real digits (:func:`digitlab.data.outliers.strokes`). Rows of ``b`` are
converted to float64 :data:`REFERENCE_CHUNK` at a time and rows of ``a`` taken so that at most
:data:`MAX_ELEMENTS` similarities are held at once, so a float32 pool of 60,000 digits is never
copied whole.
"""

from __future__ import annotations

import numpy as np

#: at most this many similarities (float64) are held at once: 32 MB
MAX_ELEMENTS = 4_000_000
#: reference rows converted to float64 at a time
REFERENCE_CHUNK = 2048


def cosine_similarities(a: np.ndarray, b: np.ndarray, chunk: int = REFERENCE_CHUNK
                        ) -> np.ndarray:
    """Cosine similarity of every row of ``a`` (M, P) with every row of ``b`` (N, P): float64
    (M, N); 0 where either row is all zero."""
    a = np.asarray(a, dtype=np.float64)
    a_norm = np.sqrt(np.einsum("ij,ij->i", a, a))
    a_unit = a / np.where(a_norm > 0, a_norm, 1.0)[:, None]
    out = np.empty((a.shape[0], b.shape[0]), dtype=np.float64)
    for start in range(0, b.shape[0], chunk):
        block = np.asarray(b[start:start + chunk], dtype=np.float64)
        norm = np.sqrt(np.einsum("ij,ij->i", block, block))
        block = block / np.where(norm > 0, norm, 1.0)[:, None]
        np.matmul(a_unit, block.T, out=out[:, start:start + block.shape[0]])
    return out


def most_similar(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For every row of ``a`` (M, P), the row of ``b`` (N ≥ 1, P) most similar to it by cosine
    (the first on a tie) and that similarity: int64 (M,) and float64 (M,) in [−1, 1]."""
    index = np.empty(a.shape[0], dtype=np.int64)
    cosine = np.empty(a.shape[0], dtype=np.float64)
    step = max(1, MAX_ELEMENTS // max(1, b.shape[0]))
    for start in range(0, a.shape[0], step):
        similarities = cosine_similarities(a[start:start + step], b)
        best = similarities.argmax(axis=1)
        index[start:start + step] = best
        cosine[start:start + step] = similarities[np.arange(best.size), best]
    return index, np.clip(cosine, -1.0, 1.0)
