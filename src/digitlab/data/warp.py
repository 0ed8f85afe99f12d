"""Resampling a batch of digits under per-sample coordinate maps (bilinear interpolation).

A warp says, for every output pixel (r, c), where in the input image to read:
``source = A (target − centre − shift) + centre + displacement``, with a 2×2 matrix A and a
shift per sample and, optionally, a displacement per pixel. The value there is interpolated
bilinearly from the four neighbouring pixels; pixels outside the 28×28 image count as 0 (the
background). Each output is thus a convex combination of input values, so images in [0, 1]
stay in [0, 1], and the identity map (A = I, no shift, no displacement) returns the image.

Shapes: images (B, 784) row-major 28×28; ``inverse`` (B, 2, 2) acting on (row, column)
coordinates; ``shift`` (B, 2); ``displacement`` (B, 2, 28, 28) or None.
"""

from __future__ import annotations

import numpy as np

from digitlab.shapes import IMAGE_SIDE

SIDE = IMAGE_SIDE
CENTRE = (SIDE - 1) / 2.0  # 13.5: the middle of the 28×28 grid in pixel coordinates

_ROWS, _COLS = np.meshgrid(np.arange(SIDE, dtype=np.float32),
                           np.arange(SIDE, dtype=np.float32), indexing="ij")
_GRID = np.stack([_ROWS.ravel(), _COLS.ravel()])  # (2, 784): (row, column) of each pixel


def warp(
    images: np.ndarray, inverse: np.ndarray, shift: np.ndarray | None = None,
    displacement: np.ndarray | None = None, *, centre: np.ndarray | None = None,
) -> np.ndarray:
    """Resample ``images`` (B, 784): output pixel p reads the input at
    ``inverse @ (p − centre − shift) + centre (+ displacement[p])``, bilinearly.

    ``centre`` (B, 2) defaults to the middle of the grid for every sample. Returns a new array
    of the images' dtype, (B, 784), values within the range of the inputs and 0.
    """
    images = np.asarray(images)
    batch = images.shape[0]
    rows = _GRID[0] - CENTRE  # (784,) each pixel's position relative to the centre
    cols = _GRID[1] - CENTRE
    if shift is not None:
        rows = rows - shift[:, 0:1].astype(np.float32)  # (B, 784)
        cols = cols - shift[:, 1:2].astype(np.float32)
    a = inverse.reshape(batch, 4).astype(np.float32)  # coordinates in float32: ample for 28 px
    # source = A⁻¹ (target − centre − shift) + centre, written out per entry: (B, 784) each
    source_rows = a[:, 0:1] * rows + a[:, 1:2] * cols
    source_cols = a[:, 2:3] * rows + a[:, 3:4] * cols
    centre_rows, centre_cols = (CENTRE, CENTRE) if centre is None else (centre[:, 0:1],
                                                                        centre[:, 1:2])
    source_rows += centre_rows
    source_cols += centre_cols
    if displacement is not None:
        source_rows += displacement[:, 0].reshape(batch, SIDE * SIDE)
        source_cols += displacement[:, 1].reshape(batch, SIDE * SIDE)
    return bilinear(images, source_rows, source_cols)


def bilinear(images: np.ndarray, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """Values of ``images`` (B, 784) at fractional positions ``rows``, ``cols`` (B, P),
    interpolated bilinearly from the four surrounding pixels; outside the grid counts as 0.

    The images are framed by a black border (one pixel before, two after) and positions are
    clamped into it, so every read is inside the frame and needs no test: one gather per
    corner, (1 − f) a + f b along columns, then along rows.
    """
    batch = images.shape[0]
    framed = np.zeros((batch, _FRAME, _FRAME), dtype=images.dtype)
    framed[:, 1 : SIDE + 1, 1 : SIDE + 1] = images.reshape(batch, SIDE, SIDE)
    flat = framed.reshape(-1)
    rows = np.clip(rows, -1, SIDE)
    cols = np.clip(cols, -1, SIDE)
    r0, c0 = np.floor(rows), np.floor(cols)
    fr = (rows - r0).astype(images.dtype, copy=False)  # (B, P) in [0, 1)
    fc = (cols - c0).astype(images.dtype, copy=False)
    first = np.arange(batch, dtype=np.intp)[:, np.newaxis] * (_FRAME * _FRAME) + _FRAME + 1
    index = r0.astype(np.intp)
    index *= _FRAME
    index += c0.astype(np.intp)
    index += first  # (B, P): the top-left neighbour in the framed images
    top_left, top_right = flat[index], flat[index + 1]
    bottom_left, bottom_right = flat[index + _FRAME], flat[index + _FRAME + 1]
    top = top_left + fc * (top_right - top_left)
    bottom = bottom_left + fc * (bottom_right - bottom_left)
    return top + fr * (bottom - top)


_FRAME = SIDE + 3  # the image with a black border: one pixel before, two after
