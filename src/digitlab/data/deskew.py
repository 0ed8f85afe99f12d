"""Deskewing: straighten each digit by its second moments (as listed on LeCun's MNIST page).

For an image with intensities p(r, c), the centre of mass is (r̄, c̄) and the skew is
α = cov(r, c) / var(r), the mean horizontal drift of the ink per row. The deskewed image reads
the original at ``(r, c + α (r − 13.5)) + (r̄ − 13.5, c̄ − 13.5)``: the shear that makes the
digit upright, with its centre of mass moved to the centre of the grid. A blank image is
returned as it is.

Shapes: images (N, 784) in [0, 1] -> (N, 784), same dtype.
"""

from __future__ import annotations

import numpy as np

from digitlab.data.augment import fast_warp
from digitlab.data.warp import CENTRE, SIDE


def deskew(images: np.ndarray, batch_size: int = 4096) -> np.ndarray:
    """Each image sheared upright about its centre of mass and centred; see the module."""
    images = np.asarray(images)
    out = np.empty_like(images)
    for start in range(0, len(images), batch_size):
        piece = images[start : start + batch_size]
        inverse, centre = skew_maps(piece)
        straight = fast_warp(piece, inverse, centre=centre)
        out[start : start + batch_size] = np.clip(straight, 0.0, 1.0)
    return out


def skew_maps(images: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per image, the map A⁻¹ = [[1, 0], [α, 1]] (B, 2, 2) and centre of mass (B, 2)."""
    batch = len(images)
    pixels = images.reshape(batch, SIDE, SIDE).astype(np.float64)
    mass = pixels.sum(axis=(1, 2))  # (B,)
    blank = mass <= 0
    mass = np.where(blank, 1.0, mass)
    index = np.arange(SIDE, dtype=np.float64)
    row_mass, col_mass = pixels.sum(axis=2), pixels.sum(axis=1)  # (B, 28) each
    mean_r = row_mass @ index / mass
    mean_c = col_mass @ index / mass
    dr = index[np.newaxis, :] - mean_r[:, np.newaxis]  # (B, 28)
    dc = index[np.newaxis, :] - mean_c[:, np.newaxis]
    var_r = np.einsum("bi,bi->b", row_mass, dr * dr) / mass
    cov_rc = np.einsum("bij,bi,bj->b", pixels, dr, dc) / mass
    alpha = np.where(blank | (var_r <= 0), 0.0, cov_rc / np.where(var_r > 0, var_r, 1.0))
    inverse = np.zeros((batch, 2, 2))
    inverse[:, 0, 0] = inverse[:, 1, 1] = 1.0
    inverse[:, 1, 0] = alpha
    centre = np.stack([np.where(blank, CENTRE, mean_r), np.where(blank, CENTRE, mean_c)], axis=1)
    return inverse, centre
