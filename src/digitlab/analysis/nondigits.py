"""Images that are not digits, to see what the network answers when there is no right answer.

Every generator returns ``n`` images as float32 (n, 784) in [0, 1], drawn like MNIST (ink = 1 on
a background of 0), and is deterministic per seed: the same seed gives the same array. ``seed``
may be an int or a :class:`numpy.random.Generator`.

Kinds made from nothing: uniform noise, Gaussian noise, all black, all white, checkerboards,
random lines and shapes, capital letters A–Z (DejaVu Sans, the font that ships with matplotlib,
centred the way MNIST centres its digits), and capital letters A–Z drawn in pen strokes as a person
draws them on the lab's sheet (:mod:`digitlab.analysis.drawn_letters`).

Kinds made from other images (``source``, (M, 784), used in order and cycled when M < n; the
caller picks which images): inverted digits (1 − x), digits rotated by 90° and by 180°, digits
shifted 8 px off centre, and Fashion-MNIST items as they are.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from digitlab.analysis.drawn_letters import drawn_letters
from digitlab.i18n import N_, domain
from digitlab.shapes import IMAGE_SHAPE, N_PIXELS

_ = domain("report").gettext

SIDE = IMAGE_SHAPE[0]  # images are SIDE × SIDE pixels
#: MNIST pixel statistics (mean, standard deviation) the Gaussian noise imitates.
MNIST_PIXEL_MEAN, MNIST_PIXEL_STD = 0.13, 0.31
SHIFT_PIXELS = 8
LETTER_BOX = 20  # MNIST: each digit's bounding box scaled to fit 20 × 20 ...
LETTER_FONTS = ("DejaVuSans.ttf", "DejaVuSans-Bold.ttf")


def _rng(seed: int | np.random.Generator) -> np.random.Generator:
    return np.random.default_rng(seed)  # a Generator is returned as is


# ---------------------------------------------------------------------- from nothing
def uniform_noise(n: int, seed: int | np.random.Generator = 0) -> np.ndarray:
    """Every pixel independently uniform in [0, 1]."""
    return _rng(seed).random((n, N_PIXELS), dtype=np.float32)


def gaussian_noise(n: int, seed: int | np.random.Generator = 0) -> np.ndarray:
    """Every pixel ~ N(0.13, 0.31²), MNIST's own pixel mean and spread, clipped to [0, 1]."""
    noise = _rng(seed).normal(MNIST_PIXEL_MEAN, MNIST_PIXEL_STD, (n, N_PIXELS))
    return np.clip(noise, 0.0, 1.0).astype(np.float32)


def all_black(n: int, seed: int | np.random.Generator = 0) -> np.ndarray:
    """No ink at all: every pixel 0 (the same for every seed)."""
    return np.zeros((n, N_PIXELS), dtype=np.float32)


def all_white(n: int, seed: int | np.random.Generator = 0) -> np.ndarray:
    """Ink everywhere: every pixel 1 (the same for every seed)."""
    return np.ones((n, N_PIXELS), dtype=np.float32)


def checkerboard(n: int, seed: int | np.random.Generator = 0) -> np.ndarray:
    """Checkerboards with a random square size (2–7 px) and a random offset."""
    rng = _rng(seed)
    sizes = rng.integers(2, 8, n)  # (n,)
    offsets = rng.integers(0, 14, (n, 2))  # (n, 2) row and column offsets
    rows = np.arange(SIDE)[None, :, None] + offsets[:, 0, None, None]  # (n, 28, 1)
    cols = np.arange(SIDE)[None, None, :] + offsets[:, 1, None, None]  # (n, 1, 28)
    size = sizes[:, None, None]
    boards = (rows // size + cols // size) % 2  # (n, 28, 28) of 0 and 1
    return boards.reshape(n, N_PIXELS).astype(np.float32)


def lines_and_shapes(n: int, seed: int | np.random.Generator = 0) -> np.ndarray:
    """One to four random strokes each: lines, ellipses, rectangles and arcs, 2–3 px wide.

    Drawn with Pillow at twice the size and averaged down, so edges are soft like MNIST's.
    """
    rng = _rng(seed)
    scale, big = 2, 2 * SIDE
    images = np.empty((n, N_PIXELS), dtype=np.float32)
    for i in range(n):
        canvas = Image.new("L", (big, big), 0)
        draw = ImageDraw.Draw(canvas)
        for _ in range(rng.integers(1, 5)):
            x0, y0, x1, y1 = rng.integers(4 * scale, big - 4 * scale, 4).tolist()
            box = [min(x0, x1), min(y0, y1), max(x0, x1) + 2, max(y0, y1) + 2]
            width = int(rng.integers(2, 4)) * scale
            shape = rng.integers(4)
            if shape == 0:
                draw.line([x0, y0, x1, y1], fill=255, width=width)
            elif shape == 1:
                draw.ellipse(box, outline=255, width=width)
            elif shape == 2:
                draw.rectangle(box, outline=255, width=width)
            else:
                start = int(rng.integers(0, 360))
                draw.arc(box, start, start + int(rng.integers(90, 300)), fill=255, width=width)
        small = canvas.resize((SIDE, SIDE), Image.Resampling.BOX)
        images[i] = np.asarray(small, dtype=np.float32).ravel() / 255.0
    return images


def letters(n: int, seed: int | np.random.Generator = 0) -> np.ndarray:
    """Random capital letters A–Z in DejaVu Sans, regular or bold, centred like MNIST digits."""
    templates = letter_templates()  # (26 × fonts, 784)
    return templates[_rng(seed).integers(0, len(templates), n)].copy()


@functools.lru_cache(maxsize=1)
def letter_templates() -> np.ndarray:
    """A–Z in each of :data:`LETTER_FONTS`, letter-major: row 26·f + i is letter i in font f."""
    rows = [mnist_centre(_render_letter(chr(ord("A") + i), font))
            for font in LETTER_FONTS for i in range(26)]
    templates = np.stack(rows).reshape(-1, N_PIXELS)
    templates.setflags(write=False)
    return templates


def font_path(file_name: str) -> Path:
    """A font file shipped with matplotlib (``mpl-data/fonts/ttf``)."""
    import matplotlib

    return Path(matplotlib.get_data_path()) / "fonts" / "ttf" / file_name


def _render_letter(letter: str, font_file: str, size: int = 96) -> np.ndarray:
    """The letter white on black, large, as float (H, W) in [0, 1]."""
    font = ImageFont.truetype(str(font_path(font_file)), size)
    canvas = Image.new("L", (2 * size, 2 * size), 0)
    ImageDraw.Draw(canvas).text((size // 2, size // 4), letter, fill=255, font=font)
    return np.asarray(canvas, dtype=np.float32) / 255.0


def mnist_centre(image: np.ndarray, box: int = LETTER_BOX) -> np.ndarray:
    """Centre an image the way MNIST was made: crop to the ink, scale the longer side to ``box``
    px (keeping the aspect ratio), then place it in 28 × 28 with its centre of mass at the centre.

    ``image``: (H, W) in [0, 1]; returns (28, 28) float32 in [0, 1].
    """
    rows, cols = np.flatnonzero(image.any(axis=1)), np.flatnonzero(image.any(axis=0))
    if rows.size == 0:
        return np.zeros((SIDE, SIDE), dtype=np.float32)
    ink = image[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]
    height, width = ink.shape
    factor = box / max(height, width)
    new_size = (max(1, round(width * factor)), max(1, round(height * factor)))  # (W, H)
    resized = Image.fromarray(np.uint8(np.round(ink * 255))).resize(
        new_size, Image.Resampling.LANCZOS)
    small = np.asarray(resized, dtype=np.float32) / 255.0  # (h, w), h and w <= box
    h, w = small.shape
    mass = small.sum()
    centre_row = (small.sum(axis=1) @ np.arange(h)) / mass
    centre_col = (small.sum(axis=0) @ np.arange(w)) / mass
    top = int(np.clip(round(SIDE / 2 - centre_row), 0, SIDE - h))
    left = int(np.clip(round(SIDE / 2 - centre_col), 0, SIDE - w))
    out = np.zeros((SIDE, SIDE), dtype=np.float32)
    out[top : top + h, left : left + w] = small
    return np.clip(out, 0.0, 1.0)


# ---------------------------------------------------------------------- from other images
def _take(n: int, source: np.ndarray) -> np.ndarray:
    """The first n rows of ``source`` (M, 784), cycled if M < n, as (n, 28, 28) float32."""
    source = np.asarray(source, dtype=np.float32).reshape(-1, N_PIXELS)
    if len(source) == 0:
        raise ValueError("source holds no images")
    return source[np.arange(n) % len(source)].reshape(n, SIDE, SIDE)


def inverted_digits(n: int, seed: int | np.random.Generator = 0, *, source) -> np.ndarray:
    """1 − x: white ink on black becomes black ink on white."""
    return (1.0 - _take(n, source)).reshape(n, N_PIXELS)


def rotated_90(n: int, seed: int | np.random.Generator = 0, *, source) -> np.ndarray:
    """Each image turned a quarter turn counter-clockwise."""
    return np.rot90(_take(n, source), k=1, axes=(1, 2)).reshape(n, N_PIXELS).copy()


def rotated_180(n: int, seed: int | np.random.Generator = 0, *, source) -> np.ndarray:
    """Each image upside down (a 6 may then look like a 9, a 0, 1 or 8 like itself)."""
    return np.rot90(_take(n, source), k=2, axes=(1, 2)).reshape(n, N_PIXELS).copy()


def shifted_digits(n: int, seed: int | np.random.Generator = 0, *, source) -> np.ndarray:
    """Each image moved 8 px in one of eight random directions (diagonals: 8 px on each axis);
    what leaves the frame is lost, what enters is background."""
    images = _take(n, source)
    directions = np.array([(dy, dx) for dy in (-1, 0, 1) for dx in (-1, 0, 1) if dy or dx])
    moves = directions[_rng(seed).integers(0, len(directions), n)] * SHIFT_PIXELS  # (n, 2)
    out = np.zeros_like(images)
    for i, (dy, dx) in enumerate(moves):
        out[i, max(dy, 0) : SIDE + min(dy, 0), max(dx, 0) : SIDE + min(dx, 0)] = \
            images[i, max(-dy, 0) : SIDE + min(-dy, 0), max(-dx, 0) : SIDE + min(-dx, 0)]
    return out.reshape(n, N_PIXELS)


def fashion_items(n: int, seed: int | np.random.Generator = 0, *, source) -> np.ndarray:
    """Fashion-MNIST images (clothes, shoes, bags) as they are: same format, not digits."""
    return _take(n, source).reshape(n, N_PIXELS).copy()


# ---------------------------------------------------------------------- the catalogue
@dataclass(frozen=True)
class NonDigitKind:
    """A kind of non-digit image: its name, a title for figures and text, its generator."""

    name: str
    title: str
    generate: Callable[..., np.ndarray]
    random: bool = True  # False: the same images for every seed
    source: str | None = None  # None, "digits" (test digits) or "fashion" (Fashion-MNIST)
    #: digits that the transformation leaves a digit: upside down, a 0, 1 or 8 is itself and a
    #: 6 and a 9 swap; such images are no evidence of what a network says to non-digits
    still_digits: tuple[int, ...] = ()


#: each kind's title, in English (the source of every language's; ``{pixels}``: SHIFT_PIXELS)
TITLES = {
    "uniform_noise": N_("uniform noise"), "gaussian_noise": N_("Gaussian noise"),
    "all_black": N_("all black"), "all_white": N_("all white"),
    "checkerboard": N_("checkerboard"), "lines_and_shapes": N_("lines and shapes"),
    "letters": N_("letters A–Z"), "drawn_letters": N_("drawn letters A–Z"),
    "inverted_digits": N_("inverted digits"),
    "rotated_90": N_("digits rotated 90°"), "rotated_180": N_("digits rotated 180°"),
    "shifted_digits": N_("digits shifted {pixels} px"), "fashion_mnist": N_("Fashion-MNIST"),
}


def kind_title(kind: str) -> str:
    """The title of the kind named ``kind`` (a key of :data:`KINDS`) in the active language."""
    if kind not in TITLES:
        return kind
    return _(TITLES[kind]).format(pixels=SHIFT_PIXELS)


def _kind(name: str, generate: Callable[..., np.ndarray], **details: Any) -> NonDigitKind:
    return NonDigitKind(name, TITLES[name].format(pixels=SHIFT_PIXELS), generate, **details)


KINDS: dict[str, NonDigitKind] = {kind.name: kind for kind in (
    _kind("uniform_noise", uniform_noise),
    _kind("gaussian_noise", gaussian_noise),
    _kind("all_black", all_black, random=False),
    _kind("all_white", all_white, random=False),
    _kind("checkerboard", checkerboard),
    _kind("lines_and_shapes", lines_and_shapes),
    _kind("letters", letters),
    _kind("drawn_letters", drawn_letters),
    _kind("inverted_digits", inverted_digits, random=False, source="digits"),
    _kind("rotated_90", rotated_90, random=False, source="digits"),
    _kind("rotated_180", rotated_180, random=False, source="digits",
          still_digits=(0, 1, 6, 8, 9)),
    _kind("shifted_digits", shifted_digits, source="digits"),
    _kind("fashion_mnist", fashion_items, random=False, source="fashion"),
)}


def generate(kind: str, n: int, seed: int | np.random.Generator = 0,
             source: np.ndarray | None = None) -> np.ndarray:
    """``n`` images of ``kind`` (a key of :data:`KINDS`), float32 (n, 784) in [0, 1]."""
    entry = KINDS[kind]
    if entry.source is None:
        return entry.generate(n, seed)
    if source is None:
        raise ValueError(f"non-digit kind {kind!r} is made from {entry.source} images: "
                         "pass them as source")
    return entry.generate(n, seed, source=source)


@dataclass
class NonDigitSet:
    """Generated images of one kind, with the labels of the digits they were made from (derived
    kinds only; None otherwise)."""

    kind: NonDigitKind
    images: np.ndarray  # (n, 784) float32 in [0, 1]
    source_labels: np.ndarray | None = None  # (n,) digits the images were made from

    def not_digits(self) -> np.ndarray:
        """The images (m ≤ n, 784) that are no digit: those made from digits the kind leaves
        a digit (:attr:`NonDigitKind.still_digits`: a 6 upside down is a 9) left out."""
        if self.source_labels is None or not self.kind.still_digits:
            return self.images
        return self.images[~np.isin(self.source_labels, self.kind.still_digits)]


def load_fashion_images() -> np.ndarray:
    """Fashion-MNIST's test images (10 000, 784); raises DataError when not available locally."""
    from digitlab.data import load_dataset

    return load_dataset("fashion-mnist", require=("test",)).test.images


def make_nondigit_sets(
    digits: np.ndarray, digit_labels: np.ndarray, n: int, seed: int = 0,
    fashion: np.ndarray | None = None,
) -> dict[str, NonDigitSet]:
    """``n`` images of every kind in :data:`KINDS`, seeded per kind.

    The derived kinds all transform the same ``n`` test digits (rows of ``digits`` (M, 784)
    drawn with the seed), so their examples can be compared side by side. The Fashion-MNIST
    kind is left out when ``fashion`` is None.
    """
    choose = np.random.default_rng([seed, len(KINDS)])
    rows = choose.choice(len(digits), size=n, replace=n > len(digits))
    sources = {"digits": digits[rows], "fashion": None}
    if fashion is not None:
        sources["fashion"] = fashion[choose.choice(len(fashion), n, replace=n > len(fashion))]
    sets = {}
    for index, kind in enumerate(KINDS.values()):
        if kind.source is not None and sources[kind.source] is None:
            continue
        rng = np.random.default_rng([seed, index])
        images = generate(kind.name, n, rng, sources.get(kind.source))
        labels = digit_labels[rows] if kind.source == "digits" else None
        sets[kind.name] = NonDigitSet(kind, images, labels)
    return sets
