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

import io
import math
import os
import warnings
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from digitlab.errors import DataError, Message
from digitlab.shapes import IMAGE_SHAPE

FIELD = IMAGE_SHAPE[0]  # the image is FIELD × FIELD pixels
BOX = 20  # the digit's longer side after scaling
CENTER = 14.0  # where the centre of mass goes, in pixel indices (MNIST's mean is 14.0, 14.0)
INK_THRESHOLD = 0.25  # after step 3: pixels above this belong to the digit's bounding box
MIN_CONTRAST = 0.1  # less difference between ink and background than this is a blank image
MAX_SIDE = 2048  # larger images are first reduced to this size (the digit ends up 20 px anyway)
#: Images with more pixels are refused before they are decoded: 25 million (5000 × 5000, a
#: 100 MB RGBA decode) is far above any photo of a digit and far below Pillow's own limit
#: (about 89 million, where it only warns), which lets a 700 kB PNG decode to 2 GB.
MAX_PIXELS = 25_000_000
#: The formats read, recognised by content (never by the name): Pillow is never asked to try
#: others, such as EPS, which it would hand to Ghostscript.
FORMATS = ("PNG", "JPEG")


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


def load_digit_image_bytes(data: bytes, name: str = "image") -> np.ndarray:
    """:func:`load_digit_image` for an image held in memory (an upload): shape (784,), float32.

    ``name`` labels the one-line :class:`DataError` raised for anything that is not a PNG/JPEG
    of at most :data:`MAX_PIXELS` pixels holding a digit.
    """
    gray = read_grayscale_bytes(data, name)
    try:
        return prepare_digit(gray)
    except DataError as error:
        raise DataError(f"{name}: {error}") from None


def load_digit_images(paths: list[str | os.PathLike]) -> np.ndarray:
    """Several images prepared by :func:`load_digit_image`, stacked to shape (N, 784)."""
    return np.stack([load_digit_image(p) for p in paths]) if paths else np.zeros((0, FIELD**2),
                                                                                 np.float32)


def read_grayscale(path: str | os.PathLike) -> np.ndarray:
    """The image at ``path`` as a float array (H, W) in [0, 1], 1 = white.

    Only PNG and JPEG are opened, recognised by content, and only up to :data:`MAX_PIXELS`
    pixels (checked from the header, before decoding); anything else is a one-line
    :class:`DataError` naming the file.

    Transparent pixels are laid over a background that contrasts with the opaque ink (white
    behind dark strokes, black behind light ones), so a drawing on a transparent canvas keeps
    its digit.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(Message("{path}: no such image file", path=path))
    try:
        with open(path, "rb") as handle:
            return _decode(handle, str(path))
    except OSError as error:
        raise DataError(Message("{path}: cannot read image ({error})", path=path,
                                error=_one_line(error))) from None


def read_grayscale_bytes(data: bytes, name: str = "image") -> np.ndarray:
    """:func:`read_grayscale` for an image held in memory (an upload); ``name`` labels errors."""
    return _decode(io.BytesIO(data), name)


def _decode(handle, where: str) -> np.ndarray:
    """Open a PNG/JPEG from a binary file object, check its size, and return its gray levels."""
    try:
        with warnings.catch_warnings():
            # Pillow warns (and refuses only at twice its limit); our own limit comes first
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            image = Image.open(handle, formats=FORMATS)
        with image:
            width, height = image.size
            if width * height > MAX_PIXELS:
                raise DataError(
                    f"{where}: the image is {width:,}×{height:,} = {width * height:,} pixels, "
                    f"more than digitlab reads ({MAX_PIXELS:,}); scale it down first"
                )
            if image.format == "JPEG":
                image.draft("L", (MAX_SIDE, MAX_SIDE))  # decode at a reduced scale if large
            ImageOps.exif_transpose(image, in_place=True)  # photos: apply the camera's rotation
            if max(image.size) > MAX_SIDE:
                image.thumbnail((MAX_SIDE, MAX_SIDE))
            return _to_gray(image)
    except UnidentifiedImageError:
        raise DataError(f"{where}: not a PNG or JPEG image (digitlab reads only these, "
                        "recognised by their content)") from None
    except Image.DecompressionBombError:
        raise DataError(f"{where}: the image has more pixels than digitlab reads "
                        f"({MAX_PIXELS:,}); scale it down first") from None
    except (OSError, ValueError, SyntaxError, EOFError) as error:
        raise DataError(f"{where}: cannot read image ({_one_line(error)})") from None


def _one_line(error: Exception) -> str:
    return " ".join(str(error).split()) or type(error).__name__


def _to_gray(image: Image.Image) -> np.ndarray:
    """Luminance (H, W) in [0, 1] of a Pillow image of any mode."""
    if image.mode in ("I", "I;16", "I;16B", "I;16L", "I;16N", "F"):  # 16/32-bit grayscale
        values = np.asarray(image, dtype=np.float64)
        low, high = values.min(), values.max()
        return (values - low) / (high - low) if high > low else np.zeros_like(values)
    has_alpha = image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info
    if not has_alpha:
        return np.asarray(image.convert("L")) / 255.0
    levels = np.asarray(image.convert("LA"))  # (H, W, 2) uint8: luminance, alpha
    if levels[..., 1].min() == 255:  # opaque, as a browser's canvas: α = 1 below gives this
        return levels[..., 0] / 255.0
    rgba = levels / 255.0  # (H, W, 2)
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
    ink = np.array(gray)  # (H, W), our own copy, changed in place below
    if np.median(border) > 0.5:
        np.subtract(1.0, ink, out=ink)  # light background: invert to white ink on black
        border = 1.0 - border
    background = float(np.median(border))
    peak = float(ink.max())
    if peak - background < MIN_CONTRAST:
        raise DataError("the image is blank (no digit stands out from the background)")
    ink -= background  # (gray − background) / (peak − background), clipped: background 0
    ink /= peak - background
    np.clip(ink, 0.0, 1.0, out=ink)

    inked = ink > INK_THRESHOLD
    rows = np.flatnonzero(inked.any(axis=1))
    cols = np.flatnonzero(inked.any(axis=0))
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
