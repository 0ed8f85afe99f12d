"""Data augmentation on the fly: a fresh random version of every training digit, every epoch.

Two kinds of distortion, as in Simard, Steinkraus & Platt (2003), "Best practices for
convolutional neural networks applied to visual document analysis":

* **random affine**: rotation θ ~ U(±rotation)°, scale s ~ U(1 ± scale), shear h ~ U(±shear)
  and translation (Δr, Δc) ~ U(±shift) px, about the centre of the image. The forward map is
  A = s · R(θ) · [[1, 0], [h, 1]]; the image is resampled through A⁻¹ (:mod:`~digitlab.data.warp`).
* **elastic distortion**: a random displacement field u, v ~ U(−1, 1) per pixel, smoothed by a
  Gaussian of width σ (``elastic_sigma`` px) and scaled so that its largest displacement in
  each image is α (``elastic_alpha`` px).

Sampling is bilinear with a black border, so pixels stay in [0, 1]; labels are untouched. All
randomness comes from the ``numpy.random.Generator`` passed in: the same generator state gives
the same digits. :class:`Prefetcher` produces the next pieces in a background thread while the
training step runs.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass

import numpy as np

from digitlab.data import warp_compiled
from digitlab.data.warp import SIDE, warp


@dataclass(frozen=True)
class Augmentation:
    """Ranges of the random distortions (0 switches one off)."""

    rotation: float = 0.0  # degrees, θ ~ U(−rotation, rotation)
    scale: float = 0.0  # relative, s ~ U(1 − scale, 1 + scale)
    shear: float = 0.0  # shear factor h ~ U(−shear, shear)
    shift: float = 0.0  # pixels, Δr, Δc ~ U(−shift, shift)
    elastic_alpha: float = 0.0  # largest elastic displacement, pixels
    elastic_sigma: float = 4.0  # width of the Gaussian that smooths the field, pixels

    @property
    def enabled(self) -> bool:
        return any((self.rotation, self.scale, self.shear, self.shift, self.elastic_alpha))

    @property
    def has_affine(self) -> bool:
        return any((self.rotation, self.scale, self.shear, self.shift))

    def to_dict(self) -> dict[str, float]:
        return asdict(self)


def augment(images: np.ndarray, options: Augmentation, rng: np.random.Generator) -> np.ndarray:
    """Randomly distorted copies of ``images`` (B, 784) in [0, 1] -> (B, 784), same dtype.

    Draws, in this order, the affine parameters (B × 5 numbers) and then, if elastic distortion
    is on, the displacement fields (B × 2 × 28 × 28).
    """
    images = np.asarray(images)
    batch = images.shape[0]
    if batch == 0 or not options.enabled:
        return images.copy()
    inverse, shift = random_affine(batch, options, rng)
    displacement = None
    if options.elastic_alpha:
        displacement = elastic_field(batch, options.elastic_alpha, options.elastic_sigma, rng)
    out = fast_warp(images, inverse, shift, displacement)
    return np.clip(out, 0.0, 1.0, out=out).astype(images.dtype, copy=False)


def fast_warp(images, inverse, shift=None, displacement=None, *, centre=None) -> np.ndarray:
    """:func:`~digitlab.data.warp.warp`, compiled when Numba is there (the same result)."""
    if warp_compiled.AVAILABLE and images.dtype == np.float32:
        return warp_compiled.warp(images, inverse, shift, displacement, centre=centre)
    return warp(images, inverse, shift, displacement, centre=centre)


def random_affine(
    batch: int, options: Augmentation, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Inverse matrices A⁻¹ (B, 2, 2) and shifts (B, 2) of random affine maps, in (row, column)
    coordinates about the centre; identity and zero where a range is 0."""
    theta, scale, shear, d_row, d_col = rng.uniform(-1.0, 1.0, size=(5, batch))
    theta = np.deg2rad(options.rotation) * theta
    scale = 1.0 + options.scale * scale
    shear = options.shear * shear
    cos, sin = np.cos(theta), np.sin(theta)
    # A = s R(θ) H with R = [[cos, −sin], [sin, cos]] and H = [[1, 0], [h, 1]] (rows, columns)
    forward = np.empty((batch, 2, 2))
    forward[:, 0, 0] = scale * (cos - sin * shear)
    forward[:, 0, 1] = -scale * sin
    forward[:, 1, 0] = scale * (sin + cos * shear)
    forward[:, 1, 1] = scale * cos
    inverse = np.linalg.inv(forward)
    shift = options.shift * np.stack([d_row, d_col], axis=1)  # (B, 2)
    return inverse, shift


def elastic_field(
    batch: int, alpha: float, sigma: float, rng: np.random.Generator
) -> np.ndarray:
    """Displacements (B, 2, 28, 28): uniform noise smoothed by a Gaussian of width ``sigma``,
    scaled so that the largest |displacement| of each image is ``alpha`` pixels."""
    noise = rng.uniform(-1.0, 1.0, size=(batch * 2, SIDE, SIDE))
    # Smoothing is linear: a Gaussian kernel matrix G (28, 28), zero beyond the image, applied
    # along columns and then along rows (the same as a separable filter with a black border);
    # each pass is one large matrix product over all rows of all fields.
    kernel = gaussian_matrix(sigma)
    smooth = (noise.reshape(-1, SIDE) @ kernel.T).reshape(batch * 2, SIDE, SIDE)
    smooth = smooth.transpose(0, 2, 1).reshape(-1, SIDE) @ kernel.T  # G is symmetric
    smooth = smooth.reshape(batch * 2, SIDE, SIDE).transpose(0, 2, 1).reshape(
        batch, 2, SIDE, SIDE)
    largest = np.abs(smooth).max(axis=(1, 2, 3), keepdims=True)
    return smooth * (alpha / np.maximum(largest, 1e-12))


def gaussian_matrix(sigma: float) -> np.ndarray:
    """G (28, 28) with G[i, j] = exp(−(i − j)² / 2σ²) / Σ_k exp(−k² / 2σ²): a Gaussian blur
    along one axis of the image as a matrix (weights of the full, untruncated kernel)."""
    offsets = np.arange(SIDE)[:, np.newaxis] - np.arange(SIDE)[np.newaxis, :]
    weights = np.exp(-0.5 * (offsets / sigma) ** 2)
    norm = np.exp(-0.5 * (np.arange(-3 * SIDE, 3 * SIDE + 1) / sigma) ** 2).sum()
    return weights / norm


def augmented_pieces(
    images: np.ndarray, order: np.ndarray, options: Augmentation, rng: np.random.Generator,
    piece: int = 1024,
) -> Iterator[np.ndarray]:
    """The training images in ``order``, augmented ``piece`` samples at a time: (≤ piece, 784)
    arrays which together are ``augment(images[order])`` drawn piece by piece from ``rng``."""
    for start in range(0, len(order), piece):
        yield augment(images[order[start : start + piece]], options, rng)


class Prefetcher:
    """Runs an iterator in a background thread, ``depth`` items ahead of the consumer.

    The items are produced in order by one thread, so a seeded producer gives the same items as
    running it in the foreground. An exception in the producer is raised in the consumer.
    """

    _DONE = object()

    def __init__(self, make: Callable[[], Iterator], depth: int = 2):
        self._queue: queue.Queue = queue.Queue(maxsize=depth)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._produce, args=(make,), daemon=True)
        self._thread.start()

    def _produce(self, make) -> None:
        try:
            for item in make():
                while not self._stop.is_set():
                    try:
                        self._queue.put(item, timeout=0.1)
                        break
                    except queue.Full:
                        continue
                if self._stop.is_set():
                    return
            self._put_final(self._DONE)
        except BaseException as error:  # handed to the consumer
            self._put_final(error)

    def _put_final(self, item) -> None:
        while not self._stop.is_set():
            try:
                self._queue.put(item, timeout=0.1)
                return
            except queue.Full:
                continue

    def __iter__(self):
        while True:
            item = self._queue.get()
            if item is self._DONE:
                return
            if isinstance(item, BaseException):
                raise item
            yield item

    def close(self) -> None:
        """Stop the producer (e.g. when training is interrupted) and wait for it."""
        self._stop.set()
        self._thread.join()

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()
