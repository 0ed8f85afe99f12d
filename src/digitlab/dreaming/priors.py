"""Image priors for deep dreaming: total variation, Gaussian blur, jitter shifts, the data's
support and class means. Plain NumPy on batches of 28×28 images stored as rows (B, 784).

Each penalty's gradient is written beside its value and checked against central differences.
"""

from __future__ import annotations

import math

import numpy as np

from digitlab.errors import ConfigError
from digitlab.shapes import IMAGE_SIDE, N_PIXELS

SIDE = IMAGE_SIDE  # images are SIDE × SIDE pixels


def total_variation(images: np.ndarray, eps: float = 0.01) -> np.ndarray:
    """Smoothed isotropic total variation of each 28×28 image: (B, 784) -> (B,).

    TV(x) = Σ_ij √(dv_ij² + dh_ij² + ε²) − ε, with the forward differences
    dv_ij = x_{i+1,j} − x_ij and dh_ij = x_{i,j+1} − x_ij (zero past the last row / column).
    ε keeps it differentiable where the image is flat; a black image has TV 0.
    """
    dv, dh = _forward_differences(images)
    return (np.sqrt(dv * dv + dh * dh + eps * eps) - eps).sum(axis=(1, 2))


def total_variation_gradient(images: np.ndarray, eps: float = 0.01) -> np.ndarray:
    """∂TV/∂x of :func:`total_variation`: (B, 784) -> (B, 784).

    With n_ij = √(dv_ij² + dh_ij² + ε²), a_ij = dv_ij / n_ij and b_ij = dh_ij / n_ij, pixel (i, j)
    enters dv_ij and dh_ij with sign −1 and dv_{i−1,j}, dh_{i,j−1} with sign +1, so
    ∂TV/∂x_ij = −a_ij − b_ij + a_{i−1,j} + b_{i,j−1}.
    """
    dv, dh = _forward_differences(images)  # (B, 28, 28) each
    norm = np.sqrt(dv * dv + dh * dh + eps * eps)
    a, b = dv / norm, dh / norm
    grad = -a - b
    grad[:, 1:, :] += a[:, :-1, :]
    grad[:, :, 1:] += b[:, :, :-1]
    return grad.reshape(len(images), N_PIXELS)


def _forward_differences(images: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Vertical and horizontal forward differences (B, 28, 28), zero in the last row / column."""
    x = images.reshape(-1, SIDE, SIDE)
    dv = np.zeros_like(x)
    dh = np.zeros_like(x)
    dv[:, :-1, :] = x[:, 1:, :] - x[:, :-1, :]
    dh[:, :, :-1] = x[:, :, 1:] - x[:, :, :-1]
    return dv, dh


def gaussian_kernel(sigma: float) -> np.ndarray:
    """Normalised 1-D Gaussian of standard deviation ``sigma``, radius ⌈3σ⌉: (2r + 1,)."""
    radius = max(1, math.ceil(3 * sigma))
    offsets = np.arange(-radius, radius + 1, dtype=np.float64)
    kernel = np.exp(-0.5 * (offsets / sigma) ** 2)
    return kernel / kernel.sum()


def gaussian_blur(images: np.ndarray, sigma: float) -> np.ndarray:
    """Blur each 28×28 image with a Gaussian of ``sigma`` pixels: (B, 784) -> (B, 784).

    The 2-D Gaussian is separable, so it is two 1-D convolutions (columns, then rows), each a
    weighted sum of shifted copies of the image; edges are reflected.
    """
    kernel = gaussian_kernel(sigma).astype(images.dtype)
    radius = len(kernel) // 2
    x = images.reshape(-1, SIDE, SIDE)
    for axis in (1, 2):
        pad = [(0, 0), (0, 0), (0, 0)]
        pad[axis] = (radius, radius)
        padded = np.pad(x, pad, mode="reflect")  # (B, 28 + 2r, 28) or (B, 28, 28 + 2r)
        blurred = np.zeros_like(x)
        for k, weight in enumerate(kernel):
            window = [slice(None)] * 3
            window[axis] = slice(k, k + SIDE)
            blurred += weight * padded[tuple(window)]
        x = blurred
    return x.reshape(len(images), N_PIXELS)


def shift_images(images: np.ndarray, shifts: np.ndarray) -> np.ndarray:
    """Roll each 28×28 image by its own (rows, columns) shift: (B, 784), (B, 2) -> (B, 784).

    A roll is a permutation of the pixels, so rolling back by −shift undoes it exactly; that
    makes "shift, take the gradient, shift back" the exact gradient of E(shifted image).
    """
    x = images.reshape(-1, SIDE, SIDE)
    out = np.empty_like(x)
    for b, (dy, dx) in enumerate(shifts):
        out[b] = np.roll(x[b], (int(dy), int(dx)), axis=(0, 1))
    return out.reshape(len(images), N_PIXELS)


def data_support(images: np.ndarray, min_fraction: float = 0.1) -> np.ndarray:
    """(784,) bool: the pixels lit (> 0) in at least ``min_fraction`` of ``images`` (N, 784).

    A pixel that is black in (nearly) every training image never moves its first-layer weights
    away from their random initial values (their gradient δ⁰_i y⁰_j is zero), yet a dream is free
    to light it. Holding such pixels black keeps the dream on the part of the image the network
    has learned about.
    """
    if not 0 <= min_fraction <= 1:
        raise ConfigError(f"support fraction must be in [0, 1], got {min_fraction!r}")
    images = np.asarray(images)
    if images.ndim != 2 or images.shape[1] != N_PIXELS or len(images) == 0:
        raise ConfigError(f"support needs images of shape (N, {N_PIXELS}), got {images.shape}")
    return (images > 0).mean(axis=0) >= min_fraction


def class_means(images: np.ndarray, labels: np.ndarray, n_classes: int = 10) -> np.ndarray:
    """The mean image of each class: (N, 784), (N,) -> (n_classes, 784); zeros for absent ones."""
    images = np.asarray(images)
    labels = np.asarray(labels)
    sums = np.zeros((n_classes, images.shape[1]), dtype=np.float64)
    np.add.at(sums, labels, images)
    counts = np.bincount(labels, minlength=n_classes)[:, None]
    return (sums / np.maximum(counts, 1)).astype(images.dtype)
