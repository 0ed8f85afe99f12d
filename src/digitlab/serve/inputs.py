"""What clients send, checked before anything is computed.

Every check raises :class:`~digitlab.serve.errors.ApiError` (4xx) with a message naming the
value and what was expected. Uploaded images are prepared by
:func:`digitlab.images.load_digit_image_bytes`, the code of ``digitlab predict`` for bytes held
in memory (the same decoding, limits and preparation).
"""

from __future__ import annotations

import json
import math
import threading
from typing import Any

import numpy as np

from digitlab.checks import bounded_int
from digitlab.errors import DataError
from digitlab.images import load_digit_image_bytes
from digitlab.serve.errors import ApiError
from digitlab.serve.language import _
from digitlab.shapes import N_PIXELS

IMAGE_TYPES = {"image/png": b"\x89PNG\r\n\x1a\n", "image/jpeg": b"\xff\xd8\xff"}
UPLOAD_NAME = "the uploaded image"


# ---------------------------------------------------------------------- images as bytes
def check_image_bytes(body: bytes, content_type: str | None) -> None:
    """The body must be a PNG or JPEG, as declared by its Content-Type and its first bytes."""
    media = (content_type or "").split(";")[0].strip().lower()
    if media not in IMAGE_TYPES:
        raise ApiError(415, _("expected Content-Type image/png or image/jpeg, got {media!r}")
                       .format(media=media or "none"))
    if not body:
        raise ApiError(400, _("the request body is empty; send the bytes of a PNG or JPEG "
                              "image"))
    if not any(body.startswith(magic) for magic in IMAGE_TYPES.values()):
        raise ApiError(415, _("the body is not a PNG or JPEG image (declared {media})").format(
            media=media))


#: a PNG of at most this many pixels (by its header) is decoded by the predictions' own thread
#: (the page's drawing is 140 × 140); larger ones and JPEGs are decoded aside
SMALL_PNG_PIXELS = 512 * 512


def small_png(body: bytes) -> bool:
    """Whether ``body`` is a PNG whose header (IHDR: width, height at bytes 16–24) says it
    has at most :data:`SMALL_PNG_PIXELS` pixels (quick to decode; a bad PNG fails later)."""
    if not body.startswith(IMAGE_TYPES["image/png"]) or body[12:16] != b"IHDR":
        return False
    width, height = int.from_bytes(body[16:20], "big"), int.from_bytes(body[20:24], "big")
    return width * height <= SMALL_PNG_PIXELS


#: uploads decoded at once: a small PNG may decode to a few hundred MB (25 million 16-bit RGBA
#: pixels), so concurrent requests wait for one another rather than add up
MAX_DECODES = 2
_decoding = threading.BoundedSemaphore(MAX_DECODES)


def prepare_uploaded_image(body: bytes) -> np.ndarray:
    """The uploaded PNG/JPEG prepared as MNIST (784,) float32, as ``digitlab predict`` does
    (at most :data:`MAX_DECODES` at once; call it from a worker thread)."""
    try:
        with _decoding:
            return load_digit_image_bytes(body, UPLOAD_NAME)
    except DataError as error:
        if "blank" in str(error):
            raise ApiError(422, _("the image is blank (no digit stands out from the "
                                  "background)")) from None
        raise ApiError(400, str(error)) from None  # the reader's own words


# ---------------------------------------------------------------------- JSON bodies
def parse_json_object(body: bytes) -> dict[str, Any]:
    """The body as a JSON object (an empty body is an empty object); its integers at most
    :data:`~digitlab.checks.MAX_INTEGER_DIGITS` digits long."""
    if not body.strip():
        return {}
    try:
        value = json.loads(body, parse_int=bounded_int)
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ApiError(400, _("the request body is not valid JSON ({error})").format(
            error=error)) from None
    except ValueError as error:  # from bounded_int: a number too long
        raise ApiError(400, _("the request body holds {what}").format(what=error)) from None
    except RecursionError:
        raise ApiError(400, _("the request body is JSON nested too deeply")) from None
    if not isinstance(value, dict):
        raise ApiError(422, _("the request body must be a JSON object, got {kind}").format(
            kind=type(value).__name__))
    return value


def image_field(body: dict[str, Any], name: str = "image") -> np.ndarray:
    """``body[name]``: a list of 784 finite numbers in [0, 1] -> (784,) float32."""
    value = body.get(name)
    if not isinstance(value, list) or len(value) != N_PIXELS:
        size = len(value) if isinstance(value, list) else type(value).__name__
        raise ApiError(422, _("{name!r} must be a list of {n} numbers in [0, 1] (28x28, "
                              "row-major), got {size}").format(name=name, n=N_PIXELS, size=size))
    if not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in value):
        raise ApiError(422, _("{name!r} must hold numbers only").format(name=name))
    image = np.asarray(value, dtype=np.float64)
    if not np.all(np.isfinite(image)) or image.min() < 0.0 or image.max() > 1.0:
        raise ApiError(422, _("{name!r} values must be finite and in [0, 1]").format(name=name))
    return image.astype(np.float32)


def integer(value: Any, name: str, low: int | None = None, high: int | None = None) -> int:
    """An int (not a bool, not a float) within [low, high]."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise ApiError(422, _("{name!r} must be an integer, got {value!r:.60}").format(
            name=name, value=value))
    if (low is not None and value < low) or (high is not None and value > high):
        bounds = _("{name!r} must be between {low} and {high}, got {value}") \
            if high is not None else _("{name!r} must be >= {low}, got {value}")
        raise ApiError(422, bounds.format(name=name, low=low, high=high, value=value))
    return value


def number(value: Any, name: str) -> float:
    """A finite int or float (not a bool)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ApiError(422, _("{name!r} must be a finite number, got {value!r:.60}").format(
            name=name, value=value))
    return float(value)


def text(value: Any, name: str, choices: tuple[str, ...] | None = None) -> str:
    if not isinstance(value, str):
        raise ApiError(422, _("{name!r} must be a string, got {value!r:.60}").format(
            name=name, value=value))
    if choices is not None and value not in choices:
        raise ApiError(422, _("{name!r} must be one of {choices}; got {value!r:.60}").format(
            name=name, choices=", ".join(choices), value=value))
    return value


def unknown_fields(body: dict[str, Any], known: set[str] | tuple[str, ...]) -> None:
    extra = sorted(set(body) - set(known))
    if extra:
        raise ApiError(422, _("unknown field(s) {fields}; expected some of {known}").format(
            fields=", ".join(map(repr, extra))[:120], known=", ".join(sorted(known))))
