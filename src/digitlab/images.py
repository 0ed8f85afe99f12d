"""Reading one's own digit images the way MNIST was made.

The MNIST digits were size-normalised to fit a 20×20 box, keeping their aspect ratio (the
anti-aliasing leaves grey levels), then placed in a 28×28 field so that their centre of mass lies
at the centre. A network trained on MNIST only reads other images well if they are prepared the
same way, so :func:`prepare_digit` does exactly these steps:

1. grayscale in [0, 1];
2. polarity: if the border (the background) is light, invert, so the digit is white on black;
3. contrast: subtract the background level and stretch so the brightest ink is 1;
4. crop the digit's bounding box (pixels above :data:`INK_THRESHOLD`);
5. scale the box, keeping its aspect ratio, so its longer side is 20 px (antialiased);
6. place it in a 28×28 field with its centre of mass at pixel (14, 14), shifting by the rounded
   offset (the digit is kept whole when a shift would push it past the edge);
7. flatten row-major to 784 values, float32.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from digitlab.data.datasets import IMAGE_SHAPE
from digitlab.errors import DataError

FIELD = IMAGE_SHAPE[0]  # the image is FIELD × FIELD pixels
BOX = 20  # the digit's longer side after scaling
CENTER = 14.0  # where the centre of mass goes, in pixel indices (MNIST's mean is 14.0, 14.0)
INK_THRESHOLD = 0.25  # after step 3: pixels above this belong to the digit's bounding box
MIN_CONTRAST = 0.1  # less difference between ink and background than this is a blank image
MAX_SIDE = 2048  # larger images are first reduced to this size (the digit ends up 20 px anyway)


def load_digit_image(path: str | os.PathLike) -> np.ndarray:
    """Load a PNG/JPEG (any size, any colour) and prepare it as MNIST: shape (784,), float32.

    Raises :class:`DataError` naming the file when it cannot be read as an image or holds no digit.
    """
    path = Path(path)
    gray = read_grayscale(path)
    try:
        return prepare_digit(gray)
    except DataError as error:
        raise DataError(f"{path}: {error}") from None


def load_digit_images(paths: list[str | os.PathLike]) -> np.ndarray:
    """Several images prepared by :func:`load_digit_image`, stacked to shape (N, 784)."""
    return np.stack([load_digit_image(p) for p in paths]) if paths else np.zeros((0, FIELD**2),
                                                                                 np.float32)


def read_grayscale(path: str | os.PathLike) -> np.ndarray:
    """The image at ``path`` as a float array (H, W) in [0, 1], 1 = white.

    Transparent pixels are laid over a background that contrasts with the opaque ink (white
    behind dark strokes, black behind light ones), so a drawing on a transparent canvas keeps
    its digit.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: no such image file")
    try:
        with Image.open(path) as image:
            image = ImageOps.exif_transpose(image)  # photos: apply the camera's rotation
            if max(image.size) > MAX_SIDE:
                image.thumbnail((MAX_SIDE, MAX_SIDE))
            return _to_gray(image)
    except (UnidentifiedImageError, Image.DecompressionBombError) as error:
        raise DataError(f"{path}: not a readable PNG/JPEG image ({error})") from None
    except (OSError, ValueError, SyntaxError) as error:
        raise DataError(f"{path}: cannot read image ({error})") from None


def _to_gray(image: Image.Image) -> np.ndarray:
    """Luminance (H, W) in [0, 1] of a Pillow image of any mode."""
    if image.mode in ("I", "I;16", "I;16B", "I;16L", "I;16N", "F"):  # 16/32-bit grayscale
        values = np.asarray(image, dtype=np.float64)
        low, high = values.min(), values.max()
        return (values - low) / (high - low) if high > low else np.zeros_like(values)
    has_alpha = image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info
    if not has_alpha:
        return np.asarray(image.convert("L"), dtype=np.float64) / 255.0
    rgba = np.asarray(image.convert("LA"), dtype=np.float64) / 255.0  # (H, W, 2)
    luminance, alpha = rgba[..., 0], rgba[..., 1]
    if alpha.sum() == 0:
        return np.zeros_like(luminance)
    ink = float((luminance * alpha).sum() / alpha.sum())  # mean luminance of what is drawn
    background = 1.0 if ink < 0.5 else 0.0
    return alpha * luminance + (1.0 - alpha) * background


def prepare_digit(gray: np.ndarray) -> np.ndarray:
    """Steps 2–7 of the module docstring for a grayscale image (H, W) in [0, 1] -> (784,)."""
    gray = np.asarray(gray, dtype=np.float64)
    if gray.ndim != 2 or min(gray.shape) < 1:
        raise DataError(f"expected a 2-D grayscale image, got shape {gray.shape}")
    border = np.concatenate([gray[0], gray[-1], gray[:, 0], gray[:, -1]])
    if np.median(border) > 0.5:
        gray = 1.0 - gray  # light background: invert to white ink on black
        border = 1.0 - border
    background = float(np.median(border))
    peak = float(gray.max())
    if peak - background < MIN_CONTRAST:
        raise DataError("the image is blank (no digit stands out from the background)")
    ink = np.clip((gray - background) / (peak - background), 0.0, 1.0)  # (H, W), background 0

    rows = np.flatnonzero((ink > INK_THRESHOLD).any(axis=1))
    cols = np.flatnonzero((ink > INK_THRESHOLD).any(axis=0))
    box = ink[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]  # (h, w) bounding box

    scaled = _scale_longer_side(box, BOX)  # (h', w'), max(h', w') = 20
    return _center_by_mass(scaled).reshape(-1).astype(np.float32)  # (28, 28) -> (784,)


def _scale_longer_side(box: np.ndarray, side: int) -> np.ndarray:
    """Resize ``box`` (h, w) so that its longer side is ``side``, keeping the aspect ratio.

    Lanczos resampling antialiases when shrinking (Pillow widens the filter by the scale
    factor); its slight over- and undershoot at sharp edges is clipped back into [0, 1].
    """
    h, w = box.shape
    scale = side / max(h, w)
    new_w, new_h = max(1, round(w * scale)), max(1, round(h * scale))
    image = Image.fromarray(box.astype(np.float32))  # mode "F"
    resized = image.resize((new_w, new_h), Image.Resampling.LANCZOS)
    return np.clip(np.asarray(resized, dtype=np.float64), 0.0, 1.0)


def _center_by_mass(digit: np.ndarray) -> np.ndarray:
    """Place ``digit`` (h, w) in a FIELD × FIELD field with its centre of mass at CENTER."""
    h, w = digit.shape
    mass = digit.sum()
    if mass == 0:
        raise DataError("the image is blank after scaling")
    cy = float((digit.sum(axis=1) * np.arange(h)).sum() / mass)  # centre of mass in the box
    cx = float((digit.sum(axis=0) * np.arange(w)).sum() / mass)
    # top-left corner that puts the centre of mass on CENTER, kept inside the field
    top = min(max(math.floor(CENTER - cy + 0.5), 0), FIELD - h)
    left = min(max(math.floor(CENTER - cx + 0.5), 0), FIELD - w)
    field = np.zeros((FIELD, FIELD), dtype=np.float64)
    field[top : top + h, left : left + w] = digit
    return field
