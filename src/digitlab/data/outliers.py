"""Outlier images to train on, so that a network learns to say "not a digit".

Outlier exposure (Hendrycks et al., 2019) adds to the loss on digits a loss on images that are
no digit, pushing the softmax towards the uniform output there (:mod:`digitlab.nn.outlier_loss`;
it is the ordinary cross-entropy against the target :func:`uniform_targets`). This module makes
those images.

Every generator has the signature ``(n, rng, digits=None)`` and returns float32 (n, 784) in
[0, 1], drawn like MNIST (ink 1 on a background of 0), the same array for the same state of the
:class:`numpy.random.Generator` ``rng``. ``digits`` (M, 784) are real digits, used by the kinds
made from them; pass the training split, never the test digits.

The training kinds (:data:`TRAINING_KINDS`): random-walk pen scribbles, glyphs of random pen
strokes and glyphs of pen strokes between the points of a 3 × 3 grid (half the pool together),
both drawn and read as the lab reads a drawing, noise (uniform or smoothed), Gaussian blobs,
pieces of digits, two digits overlaid, and Fashion-MNIST's *training* images when they are on
disk. Letters, rendered from fonts or drawn in pen strokes, are deliberately not among
them: with checkerboards, inverted, rotated, white and black images they are the kinds a trained
network has never seen, on which outlier exposure is judged (:data:`KIND_RELATION`).
"""

from __future__ import annotations

import functools
import hashlib
from collections import OrderedDict
from collections.abc import Callable

import numpy as np
from PIL import Image, ImageDraw
from scipy.ndimage import gaussian_filter

from digitlab.data.datasets import IMAGE_SHAPE, N_PIXELS
from digitlab.data.pen import pen_drawing, pen_path
from digitlab.errors import DataError
from digitlab.i18n import N_, domain
from digitlab.similarity import most_similar

_ = domain("report").gettext

SIDE = IMAGE_SHAPE[0]  # images are SIDE × SIDE pixels
SCALE = 2  # strokes are drawn at SCALE × the size and averaged down, for soft edges
#: random streams of a training run's seed: the pool (``[seed, POOL_STREAM, kind index]``) and
#: the draws from it (``[seed, BATCH_STREAM, epoch]``, a fresh generator each epoch)
POOL_STREAM, BATCH_STREAM = 16, 17
DEFAULT_POOL_SIZE = 5000
#: a pen drawing at least this similar (cosine) to a real training digit is drawn again: of the
#: embedded sample's test digits 67 % are that close to their nearest training digit, of drawn
#: letters 14 %
DIGIT_LIKE = 0.85
REDRAWS = 8  # at most this many rounds of drawing again
ARC_POINTS = 5  # control points of an arc of :func:`strokes` and :func:`glyphs`
JOINED = 0.8  # the share of :func:`strokes`' later strokes that start on an earlier one
#: the points of :func:`glyphs`' grid in a box of width 1 and height 1 (x right, y down), row by
#: row from the top: point k is in row k // 3 and column k % 3
GRID = np.array([(x, y) for y in (0.0, 0.5, 1.0) for x in (0.0, 0.5, 1.0)])
GRID_ROWS = 3
GLYPH_WIDTH = (0.45, 1.0)  # the range of a glyph's width, its height being 1
GLYPH_STROKES = (1, 4)  # the least and most strokes of a glyph
JITTER = 0.03  # the standard deviation of the noise on a glyph's control points
BULGE = (0.3, 0.7)  # the range of an arc's bulge, a share of the length of its chord


# ---------------------------------------------------------------------- helpers
def _digits(digits: np.ndarray | None, kind: str, least: int = 1) -> np.ndarray:
    """``digits`` as float32 (M, 28, 28); ValueError when None or fewer than ``least``."""
    if digits is None:
        raise ValueError(f"outlier kind {kind!r} is made from real digits: pass them as digits")
    images = np.asarray(digits, dtype=np.float32).reshape(-1, SIDE, SIDE)
    if len(images) < least:
        raise ValueError(f"outlier kind {kind!r} needs at least {least} digit image(s)")
    return images


def _shift(image: np.ndarray, dy: int, dx: int) -> np.ndarray:
    """``image`` (28, 28) moved dy rows down and dx columns right; what leaves the frame is
    lost, what enters is background."""
    out = np.zeros_like(image)
    out[max(dy, 0) : SIDE + min(dy, 0), max(dx, 0) : SIDE + min(dx, 0)] = \
        image[max(-dy, 0) : SIDE + min(-dy, 0), max(-dx, 0) : SIDE + min(-dx, 0)]
    return out


def _reflect(values: np.ndarray, low: float, high: float) -> np.ndarray:
    """Fold ``values`` into [low, high] as a ball bounces between two walls."""
    period = 2.0 * (high - low)
    folded = np.mod(values - low, period)
    return low + np.where(folded > high - low, period - folded, folded)


# ---------------------------------------------------------------------- from nothing
def scribbles(n: int, rng: np.random.Generator, digits: np.ndarray | None = None) -> np.ndarray:
    """One to three pen strokes each: smooth random walks, 2–3 px wide.

    The pen makes 15–40 steps of 1.5–2.5 px and turns a little at each step, its rate of turning
    itself a random walk, so strokes curve and loop like handwriting without being characters.
    It bounces off a 3 px margin. Drawn with Pillow at twice the size and averaged down.
    """
    big = SCALE * SIDE
    low, high = 3.0 * SCALE, big - 3.0 * SCALE
    images = np.empty((n, N_PIXELS), dtype=np.float32)
    for i in range(n):
        canvas = Image.new("L", (big, big), 0)
        draw = ImageDraw.Draw(canvas)
        for _ in range(int(rng.integers(1, 4))):
            steps = int(rng.integers(15, 41))
            turning = np.clip(np.cumsum(rng.normal(0.0, 0.15, steps)), -0.7, 0.7)
            heading = rng.uniform(0.0, 2.0 * np.pi) + np.cumsum(turning)
            length = rng.uniform(1.5, 2.5) * SCALE
            start = rng.uniform(5.0 * SCALE, big - 5.0 * SCALE, 2)
            x = _reflect(start[0] + np.cumsum(length * np.cos(heading)), low, high)
            y = _reflect(start[1] + np.cumsum(length * np.sin(heading)), low, high)
            path = np.concatenate([start[None, :], np.stack([x, y], axis=1)])  # (steps + 1, 2)
            points = [tuple(point) for point in path.tolist()]
            width = int(rng.integers(2, 4)) * SCALE
            draw.line(points, fill=255, width=width, joint="curve")
            radius = width / 2  # round pen ends
            for px, py in (points[0], points[-1]):
                draw.ellipse([px - radius, py - radius, px + radius, py + radius], fill=255)
        small = canvas.resize((SIDE, SIDE), Image.Resampling.BOX)
        images[i] = np.asarray(small, dtype=np.float32).ravel() / 255.0
    return images


def strokes(n: int, rng: np.random.Generator, digits: np.ndarray | None = None) -> np.ndarray:
    """Two to four strokes of the lab's round pen each, read as the lab reads a drawing.

    Each stroke is a straight line, a corner (two lines) or an arc of an ellipse (a quarter to
    nine tenths of it), through points drawn uniformly in a unit box, and most strokes after
    the first start on a point of one drawn before, as the strokes of a character meet (so these
    are glyphs of no script rather than scattered marks); the pen's width and the
    reading (crop, scale to 20 px, centre of mass at the centre) are those of
    :func:`digitlab.data.pen.pen_drawing`, so these are what a person's drawing that is no
    digit looks like to the network. Where ``digits`` (the training digits) are given, a
    drawing whose cosine similarity to the nearest of them reaches :data:`DIGIT_LIKE` (a
    stroke that is a 1, a ring that is a 0) is drawn again, up to :data:`REDRAWS` times: an
    outlier must not teach the network to doubt a real digit.
    """
    return _unlike_digits(n, _pen_strokes, rng, digits)


def _unlike_digits(n: int, draw_one: Callable[[np.random.Generator], np.ndarray],
                   rng: np.random.Generator, digits: np.ndarray | None) -> np.ndarray:
    """``n`` drawings ``draw_one(rng)`` (each (784,) float32), stacked (n, 784); where
    ``digits`` (M, 784) are given, each drawing whose cosine similarity to the nearest of them
    reaches :data:`DIGIT_LIKE` is drawn again, for up to :data:`REDRAWS` rounds, each round
    measuring only the drawings drawn again in the one before (one that passed never changes)."""
    images = np.stack([draw_one(rng) for _ in range(n)]) if n else \
        np.empty((0, N_PIXELS), dtype=np.float32)
    if digits is None or not n:
        return images
    reference = np.asarray(digits, dtype=np.float32).reshape(-1, N_PIXELS)
    unchecked = np.arange(n)
    for _ in range(REDRAWS):
        unchecked = unchecked[most_similar(images[unchecked], reference)[1] >= DIGIT_LIKE]
        if unchecked.size == 0:
            break
        for i in unchecked:
            images[i] = draw_one(rng)
    return images


def _pen_strokes(rng: np.random.Generator) -> np.ndarray:
    """One drawing of :func:`strokes`: (784,) float32. After the first, a stroke mostly starts
    on one drawn before it (:data:`JOINED`), as the strokes of a character meet."""
    paths: list[np.ndarray] = []
    for _ in range(int(rng.integers(2, 5))):
        shape = int(rng.integers(3))
        if shape < 2:  # a line (2 points) or a corner (3)
            path = rng.uniform(0.0, 1.0, (2 + shape, 2))
        else:
            centre, radii = rng.uniform(0.2, 0.8, 2), rng.uniform(0.15, 0.5, 2)
            start, span = rng.uniform(0.0, 2.0 * np.pi), rng.uniform(0.5 * np.pi, 1.8 * np.pi)
            angles = start + np.linspace(0.0, span, ARC_POINTS)
            path = pen_path(centre + radii * np.stack([np.cos(angles), np.sin(angles)], axis=1),
                            smooth=True)
        if paths and rng.random() < JOINED:
            earlier = paths[int(rng.integers(len(paths)))]
            path = path - path[0] + earlier[int(rng.integers(len(earlier)))]
        paths.append(path)
    return pen_drawing(paths, rng)


def glyphs(n: int, rng: np.random.Generator, digits: np.ndarray | None = None) -> np.ndarray:
    """One to four strokes of the lab's round pen between the points of a 3 × 3 grid each.

    Many scripts build their characters so: strokes from corner to corner, to the middles of the
    sides and through the centre of the character's box. These glyphs are of no script: each is
    drawn at random (:func:`_grid_glyph_paths`), spans its box's height as a character does, and
    is inked and read as :func:`strokes` are (:func:`digitlab.data.pen.pen_drawing`). Where
    ``digits`` (the training digits) are given, a glyph as similar to one of them as
    :data:`DIGIT_LIKE` is drawn again, as :func:`strokes` are.
    """
    return _unlike_digits(n, _grid_glyph, rng, digits)


def _grid_glyph(rng: np.random.Generator) -> np.ndarray:
    """One glyph of :func:`glyphs`: (784,) float32."""
    return pen_drawing(_grid_glyph_paths(rng), rng)


def _grid_glyph_paths(rng: np.random.Generator) -> list[np.ndarray]:
    """The paths (each (m, 2), y down) of one glyph of :func:`glyphs`, drawn again until its
    strokes touch both the top and the bottom row of the grid, so that it spans its box's height
    (no flat bars)."""
    while True:
        paths, rows = _grid_strokes(rng)
        if {0, GRID_ROWS - 1} <= rows:
            return paths


def _grid_strokes(rng: np.random.Generator) -> tuple[list[np.ndarray], set[int]]:
    """The paths of one to four strokes on the grid :data:`GRID` of a box of random width
    (:data:`GLYPH_WIDTH`) and height 1, and the rows of the grid points they use.

    A stroke is a line between two grid points, a polyline through three or an arc between two,
    no grid point following itself; each stroke after the first starts on a grid point used
    before, as the strokes of a character meet. Every control point
    is moved by noise N(0, :data:`JITTER`²) on each axis, as a hand draws.
    """
    points = GRID * [rng.uniform(*GLYPH_WIDTH), 1.0]  # (9, 2)
    paths: list[np.ndarray] = []
    used: list[int] = []
    for _ in range(int(rng.integers(GLYPH_STROKES[0], GLYPH_STROKES[1] + 1))):
        shape = int(rng.integers(3))  # a line, a polyline or an arc
        chosen = [used[int(rng.integers(len(used)))] if used else int(rng.integers(len(GRID)))]
        while len(chosen) < (3 if shape == 1 else 2):  # the next point: any but the last
            chosen.append((chosen[-1] + int(rng.integers(1, len(GRID)))) % len(GRID))
        ends = points[chosen] + rng.normal(0.0, JITTER, (len(chosen), 2))
        paths.append(_arc(ends[0], ends[-1], rng) if shape == 2 else ends)
        used += chosen
    return paths, {k // GRID_ROWS for k in used}


def _arc(start: np.ndarray, end: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A smooth arc from ``start`` to ``end`` (each (2,)): the chord c(t) = start + t · d
    (d = end − start) bulged by sin(π t) · b · n̂ to either side, n̂ the chord's unit normal and b
    drawn from :data:`BULGE` × ‖d‖, through :data:`ARC_POINTS` control points (t evenly in
    [0, 1]): the points (m, 2) of :func:`digitlab.data.pen.pen_path`."""
    chord = end - start
    normal = np.array([-chord[1], chord[0]])  # ‖normal‖ = ‖d‖
    bulge = rng.choice([-1.0, 1.0]) * rng.uniform(*BULGE) * normal
    t = np.linspace(0.0, 1.0, ARC_POINTS)[:, None]  # (ARC_POINTS, 1)
    return pen_path(start + t * chord + np.sin(np.pi * t) * bulge, smooth=True)


def noise(n: int, rng: np.random.Generator, digits: np.ndarray | None = None) -> np.ndarray:
    """Half uniform noise (every pixel uniform in [0, 1]), half Gaussian noise smoothed by a
    Gaussian filter of width 0.8–3 px (clouds rather than snow), each rescaled to fill [0, 1]."""
    smooth = rng.random(n) < 0.5  # (n,) which images are smoothed
    sigmas = rng.uniform(0.8, 3.0, n)
    images = rng.random((n, SIDE, SIDE), dtype=np.float32)
    white = rng.normal(size=(n, SIDE, SIDE)).astype(np.float32)
    for i in np.flatnonzero(smooth):
        cloud = gaussian_filter(white[i], float(sigmas[i]), mode="reflect")
        low, high = cloud.min(), cloud.max()
        images[i] = (cloud - low) / max(high - low, 1e-12)
    return np.clip(images, 0.0, 1.0).reshape(n, N_PIXELS)


def blobs(n: int, rng: np.random.Generator, digits: np.ndarray | None = None) -> np.ndarray:
    """One to four Gaussian blobs each, of random place (centre 4–24 px), widths (1.5–5 px on
    each axis) and brightness (0.6–1); where blobs meet the brighter one wins."""
    most = 4
    count = rng.integers(1, most + 1, n)  # (n,)
    centres = rng.uniform(4.0, 24.0, (n, most, 2))
    widths = rng.uniform(1.5, 5.0, (n, most, 2))
    peaks = rng.uniform(0.6, 1.0, (n, most)) * (np.arange(most) < count[:, None])
    grid = np.arange(SIDE, dtype=np.float64)
    rows = np.exp(-0.5 * ((grid - centres[..., 0, None]) / widths[..., 0, None]) ** 2)
    cols = np.exp(-0.5 * ((grid - centres[..., 1, None]) / widths[..., 1, None]) ** 2)
    each = peaks[..., None, None] * rows[..., :, None] * cols[..., None, :]  # (n, most, 28, 28)
    return np.clip(each.max(axis=1), 0.0, 1.0).astype(np.float32).reshape(n, N_PIXELS)


# ---------------------------------------------------------------------- from digits
NARROW = 8  # a digit whose ink is narrower (px) is only cut across
#: the pieces of a digit: rows and columns kept, each as (keep the first part?, keep the last?)
_PIECES = (
    ((True, False), (True, True)), ((False, True), (True, True)),  # top, bottom half
    ((True, True), (True, False)), ((True, True), (False, True)),  # left, right half
    ((True, False), (True, False)), ((True, False), (False, True)),  # top-left, top-right
    ((False, True), (True, False)), ((False, True), (False, True)),  # bottom-left, bottom-right
)


def pieces(n: int, rng: np.random.Generator, digits: np.ndarray | None = None) -> np.ndarray:
    """A half (top, bottom, left, right) or a quarter of a real digit, the rest blank.

    The digit is cut through the middle of its ink's bounding box; a narrow digit (ink less than
    :data:`NARROW` px wide, a 1 say) only across, since its left or right half would still look
    like the digit. (A quarter may hold little or no ink: it is still no digit.)
    Half of the pieces stay where
    they were, the other half are moved so that their centre of mass is at the image centre, as
    MNIST centres whole digits.
    """
    source = _digits(digits, "pieces")
    chosen = rng.integers(0, len(source), n)
    which = rng.integers(0, len(_PIECES), n)
    across = rng.integers(0, 2, n)  # the piece of a narrow digit: top or bottom half
    recentre = rng.random(n) < 0.5
    grid = np.arange(SIDE)
    images = np.empty((n, SIDE, SIDE), dtype=np.float32)
    for i in range(n):
        digit = source[chosen[i]]
        ink_rows, ink_cols = np.flatnonzero(digit.any(axis=1)), np.flatnonzero(digit.any(axis=0))
        if ink_rows.size == 0:  # a blank digit has no pieces
            images[i] = 0.0
            continue
        mid_row = (ink_rows[0] + ink_rows[-1] + 1) // 2
        mid_col = (ink_cols[0] + ink_cols[-1] + 1) // 2
        narrow = ink_cols[-1] - ink_cols[0] + 1 < NARROW
        (top, bottom), (left, right) = _PIECES[across[i] if narrow else which[i]]
        keep_rows = np.where(grid < mid_row, top, bottom)
        keep_cols = np.where(grid < mid_col, left, right)
        piece = digit * (keep_rows[:, None] & keep_cols[None, :])
        mass = piece.sum()
        if recentre[i] and mass > 0:
            centre_row = piece.sum(axis=1) @ grid / mass
            centre_col = piece.sum(axis=0) @ grid / mass
            piece = _shift(piece, int(round(SIDE / 2 - centre_row)),
                           int(round(SIDE / 2 - centre_col)))
        images[i] = piece
    return images.reshape(n, N_PIXELS)


#: the shifts of the second digit of an overlay: 2–5 px on at least one axis
_OVERLAY_SHIFTS = np.array([(dy, dx) for dy in range(-5, 6) for dx in range(-5, 6)
                            if max(abs(dy), abs(dx)) >= 2])


def overlays(n: int, rng: np.random.Generator, digits: np.ndarray | None = None) -> np.ndarray:
    """The pixelwise maximum of two different real digits (different rows of ``digits``), the
    second moved 2–5 px: two digits written over each other are no single digit."""
    source = _digits(digits, "overlays", least=2)
    first = rng.integers(0, len(source), n)
    second = (first + rng.integers(1, len(source), n)) % len(source)  # never the same row
    shifts = _OVERLAY_SHIFTS[rng.integers(0, len(_OVERLAY_SHIFTS), n)]
    images = np.empty((n, SIDE, SIDE), dtype=np.float32)
    for i in range(n):
        moved = _shift(source[second[i]], int(shifts[i, 0]), int(shifts[i, 1]))
        images[i] = np.maximum(source[first[i]], moved)
    return images.reshape(n, N_PIXELS)


# ---------------------------------------------------------------------- from Fashion-MNIST
@functools.lru_cache(maxsize=1)
def load_fashion_training_images() -> np.ndarray | None:
    """Fashion-MNIST's *training* images (60 000, 784), read-only, or None when they are not
    on disk; read once per process (about a second).

    Only the training images are used here: the test images are a kind of non-digit that
    networks are judged on (:mod:`digitlab.analysis.nondigits`).
    """
    from digitlab.data.datasets import load_dataset

    try:
        images = load_dataset("fashion-mnist", require=("train",)).train.images
    except DataError:
        return None
    images.setflags(write=False)
    return images


def fashion(n: int, rng: np.random.Generator, digits: np.ndarray | None = None, *,
            images: np.ndarray | None = None) -> np.ndarray | None:
    """``n`` Fashion-MNIST training images drawn at random, as they are; None when Fashion-MNIST
    is not on disk. ``images`` (M, 784): the training images, when already loaded."""
    if images is None:
        images = load_fashion_training_images()
        if images is None:
            return None
    rows = rng.integers(0, len(images), n)
    return np.asarray(images, dtype=np.float32).reshape(-1, N_PIXELS)[rows]


# ---------------------------------------------------------------------- the catalogue
OutlierGenerator = Callable[..., "np.ndarray | None"]

#: the training kinds in order (the order fixes each kind's random stream)
OUTLIER_GENERATORS: dict[str, OutlierGenerator] = {
    "scribbles": scribbles,
    "noise": noise,
    "blobs": blobs,
    "pieces": pieces,
    "overlays": overlays,
    "fashion": fashion,
    "strokes": strokes,
    "glyphs": glyphs,
}
TRAINING_KINDS: tuple[str, ...] = tuple(OUTLIER_GENERATORS)
#: each kind's weight in the pool: its share is weight / the sum of the weights of the kinds used.
#: Pen drawings fill half of it, ``strokes`` and ``glyphs`` a quarter each: what a person draws in
#: the lab is most like them. On the ``honest`` preset (seed 0) the letters people draw
#: (``drawn_letters``) got a median top probability of 0.92 without free strokes, 0.87 with an
#: even share and 0.77 with half the pool; making half the pen drawings grid glyphs moved it
#: from 0.78 to 0.74, and from 0.63 to 0.54 together with outlier mining.
POOL_WEIGHTS: dict[str, float] = {**dict.fromkeys(TRAINING_KINDS, 1.0),
                                  "strokes": 3.0, "glyphs": 3.0}
#: training kinds made from real digits
DIGIT_KINDS = frozenset({"pieces", "overlays"})

#: How each kind of non-digit of :data:`digitlab.analysis.nondigits.KINDS` relates to the
#: training kinds:
#:
#: ============== ========= ===================================================================
#: kind           relation  why
#: ============== ========= ===================================================================
#: uniform_noise  trained   ``noise`` makes exactly such images (half of it)
#: gaussian_noise related   per-pixel noise, as ``noise``, but unsmoothed and MNIST's mean
#: all_black      unseen    no training kind is blank (only a rare empty piece)
#: all_white      unseen
#: checkerboard   unseen
#: lines_and_...  related   lines, ellipses, rectangles, arcs: strokes as ``scribbles``
#: letters        unseen    no glyph from a font is trained on
#: drawn_letters  unseen    letters drawn in pen strokes: ``strokes`` and ``glyphs`` draw with
#:                          the same pen and read the drawing alike, but random glyphs (free
#:                          strokes, or random strokes on a grid), never characters. Measured:
#:                          the median cosine similarity of a grid glyph to its nearest drawn
#:                          letter is 0.70, the same as a real test digit's (0.70), and 1.9 %
#:                          of glyphs reach 0.85 against 2.3 % of test digits (free strokes:
#:                          0.66 and 0.6 %)
#: inverted_...   unseen
#: rotated_90     unseen
#: rotated_180    unseen
#: shifted_digits related   whole digits 8 px off centre; ``pieces`` and ``overlays`` move
#:                          parts of digits off centre
#: fashion_mnist  related   the test images of the distribution whose training images
#:                          ``fashion`` trains on: not evidence of generalisation
#: ============== ========= ===================================================================
#:
#: "unseen" kinds are where outlier exposure is judged; "trained" and "related" kinds only show
#: that the training worked.
KIND_RELATION: dict[str, str] = {
    "uniform_noise": "trained",
    "gaussian_noise": "related",
    "all_black": "unseen",
    "all_white": "unseen",
    "checkerboard": "unseen",
    "lines_and_shapes": "related",
    "letters": "unseen",
    "drawn_letters": "unseen",
    "inverted_digits": "unseen",
    "rotated_90": "unseen",
    "rotated_180": "unseen",
    "shifted_digits": "related",
    "fashion_mnist": "related",
}
UNSEEN_KINDS: tuple[str, ...] = tuple(k for k, v in KIND_RELATION.items() if v == "unseen")
#: the relations as a person reads them (figures and tables of the report)
RELATION_NAMES = {"trained": N_("trained"), "related": N_("related"), "unseen": N_("unseen")}


def relation_name(relation: str) -> str:
    """A relation of :data:`KIND_RELATION` in the active language."""
    return _(RELATION_NAMES[relation]) if relation in RELATION_NAMES else relation


def generate_outliers(kind: str, n: int, rng: np.random.Generator,
                      digits: np.ndarray | None = None) -> np.ndarray | None:
    """``n`` outliers of the training kind ``kind``; None for ``fashion`` when it is absent."""
    try:
        generator = OUTLIER_GENERATORS[kind]
    except KeyError:
        raise ValueError(f"unknown outlier kind {kind!r}; expected one of "
                         f"{', '.join(TRAINING_KINDS)}") from None
    return generator(n, rng, digits)


def uniform_targets(m: int, n_classes: int, dtype=np.float32) -> np.ndarray:
    """The targets of ``m`` outliers: (m, n_classes) all 1/n_classes, the uniform output.

    Softmax cross-entropy against them is the outlier-exposure loss
    (:mod:`digitlab.nn.outlier_loss`).
    """
    return np.full((m, n_classes), 1.0 / n_classes, dtype=dtype)


def pool_shares(pool_size: int, weights: list[float]) -> list[int]:
    """``pool_size`` split in proportion to ``weights``, the remainder going to the largest
    fractions (ties to the first): whole numbers that sum to ``pool_size``."""
    exact = np.asarray(weights, dtype=np.float64) * pool_size / float(np.sum(weights))
    shares = np.floor(exact).astype(np.int64)
    by_fraction = np.argsort(-(exact - shares), kind="stable")
    shares[by_fraction[: pool_size - int(shares.sum())]] += 1
    return shares.tolist()


#: the pools made last, by all they depend on: a resumed run, or a study that trains on the same
#: digits again, draws from the same pool without making it again (pen strokes take ~1 ms each)
_POOLS: OrderedDict[tuple, tuple[np.ndarray, np.ndarray]] = OrderedDict()
POOLS_KEPT = 2


def _digest(images: np.ndarray | None) -> str | None:
    """A fingerprint of an image array: its dtype, shape and bytes."""
    if images is None:
        return None
    array = np.ascontiguousarray(images)
    digest = hashlib.blake2b(array.tobytes(), digest_size=16).hexdigest()
    return f"{array.dtype}{array.shape}{digest}"


def _make_pool(seed: int, kinds: tuple[str, ...], weights: tuple[float, ...], pool_size: int,
               digits: np.ndarray, fashion_images: np.ndarray | None
               ) -> tuple[np.ndarray, np.ndarray]:
    """The pool of :class:`OutlierSource` and its kind indices, read-only."""
    parts, labels = [], []
    for kind, share in zip(kinds, pool_shares(pool_size, list(weights)), strict=True):
        index = TRAINING_KINDS.index(kind)
        rng = np.random.default_rng([seed, POOL_STREAM, index])
        if kind == "fashion":
            images = fashion(share, rng, images=fashion_images)
        else:
            images = OUTLIER_GENERATORS[kind](share, rng, digits)
        parts.append(images)
        labels.append(np.full(share, index, dtype=np.int64))
    pool, pool_kinds = np.concatenate(parts), np.concatenate(labels)
    pool.setflags(write=False)
    pool_kinds.setflags(write=False)
    return pool, pool_kinds


class OutlierSource:
    """A pool of outliers made once per training run, and random draws from it.

    ``digits`` (N, 784): the run's training digits (for ``pieces`` and ``overlays``, and to
    keep ``strokes`` and ``glyphs`` unlike them). The pool holds ``pool_size`` images, shared
    among ``kinds`` in proportion to :data:`POOL_WEIGHTS` (:func:`pool_shares`); kind i of
    :data:`TRAINING_KINDS` is generated from its own stream ``np.random.default_rng([seed,
    POOL_STREAM, i])``, so the pool depends only on the seed, the digits and the kinds.
    ``fashion`` is left out when Fashion-MNIST is not on disk (see :attr:`kinds` for those
    used); ``fashion_images`` may pass its training images if already loaded.
    """

    def __init__(self, digits: np.ndarray, seed: int, kinds=TRAINING_KINDS,
                 pool_size: int = DEFAULT_POOL_SIZE, *,
                 fashion_images: np.ndarray | None = None):
        kinds = tuple(kinds)
        unknown = [k for k in kinds if k not in OUTLIER_GENERATORS]
        if unknown or not kinds:
            raise ValueError(f"unknown outlier kinds {unknown!r}; expected some of "
                             f"{', '.join(TRAINING_KINDS)}")
        if pool_size < 1:
            raise ValueError(f"pool_size must be at least 1, not {pool_size}")
        fashion_key = None if "fashion" not in kinds else _digest(fashion_images)
        if "fashion" in kinds and fashion_images is None:
            fashion_images, fashion_key = load_fashion_training_images(), "on disk"
            if fashion_images is None:
                kinds = tuple(k for k in kinds if k != "fashion")
        if not kinds:
            raise ValueError("no outlier kind is available (Fashion-MNIST is not on disk)")
        self.seed = int(seed)
        self.kinds: tuple[str, ...] = kinds
        weights = tuple(POOL_WEIGHTS[kind] for kind in kinds)
        key = (self.seed, kinds, weights, pool_size, _digest(digits), fashion_key)
        if key not in _POOLS:
            _POOLS[key] = _make_pool(self.seed, kinds, weights, pool_size, digits,
                                     fashion_images)
            while len(_POOLS) > POOLS_KEPT:
                _POOLS.popitem(last=False)
        _POOLS.move_to_end(key)
        #: the outliers (pool_size, 784) float32 in [0, 1], and the index in
        #: :data:`TRAINING_KINDS` of each one's kind (pool_size,) int64; both read-only
        self.pool, self.pool_kinds = _POOLS[key]

    def __len__(self) -> int:
        return len(self.pool)

    def batch(self, m: int, rng: np.random.Generator, dtype=None,
              rows: np.ndarray | None = None) -> np.ndarray:
        """``m`` outliers (m, 784) drawn uniformly, with replacement, from the pool, or from its
        ``rows`` (indices) where given, by ``rng`` (the only draw made from it); float32 unless
        ``dtype`` is given."""
        drawn = rng.integers(0, len(self.pool) if rows is None else len(rows), m)
        images = self.pool[drawn if rows is None else np.asarray(rows)[drawn]]
        return images if dtype is None else images.astype(dtype, copy=False)
