"""Capital letters A–Z drawn with a round pen, as a person draws them on the lab's canvas.

Font letters (:func:`digitlab.analysis.nondigits.letters`) have a font's shapes and a varying
stroke width; what a person tries on the lab's sheet is a letter drawn in a few strokes of a pen
of one width with round ends and joins. This module draws such letters:

1. a skeleton per letter (:data:`SKELETONS`): its strokes in the order a hand draws them, each
   through a few control points in a box of height 1 (x to the right, y down; narrow letters use
   part of the width), either straight from point to point (:func:`line`) or a smooth curve
   through them (:func:`curve`, a Catmull–Rom spline, closed when it ends where it began);
2. every control point moved by N(0, :data:`JITTER`²) on each axis, so no two letters are alike;
3. the whole letter made wider or narrower by the factor a, slanted by φ (the top leans right
   when φ > 0) and turned by θ about its centre c (the middle of its bounding box):

       p' = c + R(θ) · (a · (p_x − c_x) + tan φ · (c_y − p_y),  p_y − c_y) ;

4. drawn and read by :mod:`digitlab.data.pen` (also the pen of outlier exposure's random
   strokes): white on black with a round pen whose width is a share of the letter's height
   (:data:`~digitlab.data.pen.PEN_WIDTH`; the lab's pen is 7.5 % of its sheet and a letter
   fills most of it), then read as the lab reads a drawing:
   :func:`digitlab.images.prepare_digit` crops the ink, scales its longer side to 20 px and
   puts its centre of mass at the centre of 28 × 28.

:func:`drawn_letters` returns n such images, float32 (n, 784) in [0, 1], the same for the same
seed.
"""

from __future__ import annotations

import string
from dataclasses import dataclass

import numpy as np

from digitlab.data.pen import pen_drawing, pen_path
from digitlab.shapes import N_PIXELS

Point = tuple[float, float]

#: standard deviation of each control point's move, a share of the letter's height
JITTER = 0.03
#: ranges (degrees) of the turn θ and of the slant φ (hands mostly lean right), and of log a
ROTATION, SLANT, LOG_ASPECT = (-7.0, 7.0), (-6.0, 12.0), (-0.2, 0.2)


@dataclass(frozen=True)
class Stroke:
    """One pen stroke through ``points`` (k, 2 control points): straight from point to point,
    or a smooth curve through them when ``smooth``."""

    points: tuple[Point, ...]
    smooth: bool = False


def line(*points: Point) -> Stroke:
    """A stroke straight from each point to the next."""
    return Stroke(points)


def curve(*points: Point) -> Stroke:
    """A stroke along a smooth curve through the points (closed when the last is the first)."""
    return Stroke(points, smooth=True)


_BOWL_TOP = curve((0.15, 0), (0.55, 0.01), (0.78, 0.13), (0.76, 0.36), (0.55, 0.5), (0.15, 0.5))
_RING = curve((0.5, 0), (0.16, 0.13), (0.05, 0.5), (0.16, 0.87), (0.5, 1), (0.84, 0.87),
              (0.95, 0.5), (0.84, 0.13), (0.5, 0))
_OPEN_RING = ((0.88, 0.2), (0.7, 0.03), (0.45, 0), (0.2, 0.12), (0.07, 0.5), (0.2, 0.88),
              (0.45, 1), (0.7, 0.97))

#: each capital letter as a person draws it: its strokes, in drawing order
SKELETONS: dict[str, tuple[Stroke, ...]] = {
    "A": (line((0.1, 1), (0.5, 0), (0.9, 1)), line((0.27, 0.64), (0.73, 0.64))),
    "B": (line((0.15, 0), (0.15, 1)), _BOWL_TOP,
          curve((0.15, 0.5), (0.6, 0.51), (0.84, 0.64), (0.82, 0.87), (0.6, 0.99), (0.15, 1))),
    "C": (curve(*_OPEN_RING, (0.88, 0.8)),),
    "D": (line((0.15, 0), (0.15, 1)),
          curve((0.15, 0), (0.5, 0.03), (0.8, 0.2), (0.9, 0.5), (0.8, 0.8), (0.5, 0.97),
                (0.15, 1))),
    "E": (line((0.8, 0), (0.15, 0), (0.15, 1), (0.8, 1)), line((0.15, 0.5), (0.68, 0.5))),
    "F": (line((0.8, 0), (0.15, 0), (0.15, 1)), line((0.15, 0.48), (0.66, 0.48))),
    "G": (curve(*_OPEN_RING, (0.88, 0.78), (0.9, 0.56)), line((0.9, 0.56), (0.55, 0.56))),
    "H": (line((0.15, 0), (0.15, 1)), line((0.85, 0), (0.85, 1)), line((0.15, 0.5), (0.85, 0.5))),
    "I": (line((0.5, 0), (0.5, 1)), line((0.25, 0), (0.75, 0)), line((0.25, 1), (0.75, 1))),
    "J": (line((0.35, 0), (0.95, 0)),
          curve((0.7, 0), (0.7, 0.65), (0.62, 0.9), (0.42, 1), (0.22, 0.93), (0.14, 0.75))),
    "K": (line((0.15, 0), (0.15, 1)), line((0.82, 0), (0.17, 0.56), (0.85, 1))),
    "L": (line((0.15, 0), (0.15, 1), (0.8, 1)),),
    "M": (line((0.05, 1), (0.12, 0), (0.5, 0.68), (0.88, 0), (0.95, 1)),),
    "N": (line((0.15, 1), (0.15, 0), (0.85, 1), (0.85, 0)),),
    "O": (_RING,),
    "P": (line((0.15, 1), (0.15, 0)), _BOWL_TOP),
    "Q": (_RING, line((0.58, 0.7), (0.95, 1.03))),
    "R": (line((0.15, 1), (0.15, 0)), _BOWL_TOP, line((0.4, 0.5), (0.85, 1))),
    "S": (curve((0.85, 0.15), (0.62, 0.01), (0.35, 0.01), (0.15, 0.14), (0.18, 0.36), (0.5, 0.5),
                (0.82, 0.64), (0.85, 0.87), (0.62, 1), (0.32, 1), (0.1, 0.86)),),
    "T": (line((0.05, 0), (0.95, 0)), line((0.5, 0), (0.5, 1))),
    "U": (curve((0.12, 0), (0.12, 0.62), (0.24, 0.9), (0.5, 1), (0.76, 0.9), (0.88, 0.62),
                (0.88, 0)),),
    "V": (line((0.08, 0), (0.5, 1), (0.92, 0)),),
    "W": (line((0.02, 0), (0.25, 1), (0.5, 0.3), (0.75, 1), (0.98, 0)),),
    "X": (line((0.1, 0), (0.9, 1)), line((0.9, 0), (0.1, 1))),
    "Y": (line((0.08, 0), (0.5, 0.5)), line((0.92, 0), (0.5, 0.5), (0.5, 1))),
    "Z": (line((0.1, 0), (0.9, 0), (0.1, 1), (0.9, 1)),),
}
LETTERS = string.ascii_uppercase  # the order of :data:`SKELETONS`


def drawn_letters(n: int, seed: int | np.random.Generator = 0) -> np.ndarray:
    """``n`` capital letters, each chosen uniformly from A–Z and drawn as the module docstring
    says: float32 (n, 784) in [0, 1], ink 1 on 0, the same for the same seed (an int or a
    :class:`numpy.random.Generator`)."""
    rng = np.random.default_rng(seed)
    chosen = rng.integers(0, len(LETTERS), n)
    images = np.empty((n, N_PIXELS), dtype=np.float32)
    for i, index in enumerate(chosen):
        images[i] = draw_letter(LETTERS[index], rng)
    return images


def draw_letter(letter: str, rng: np.random.Generator) -> np.ndarray:
    """One drawing of ``letter`` (a key of :data:`SKELETONS`) prepared as the lab prepares a
    drawing: (784,) float32 in [0, 1]."""
    paths = [pen_path(_jittered(stroke, rng), stroke.smooth) for stroke in SKELETONS[letter]]
    return pen_drawing(_slanted_and_turned(paths, rng), rng)


def _jittered(stroke: Stroke, rng: np.random.Generator) -> np.ndarray:
    """The stroke's control points (k, 2), each moved by N(0, JITTER²) per axis; a closed
    curve's last point moves with its first, so it stays closed."""
    points = np.array(stroke.points, dtype=np.float64)
    moved = points + rng.normal(0.0, JITTER, points.shape)
    if stroke.smooth and len(points) > 2 and np.array_equal(points[0], points[-1]):
        moved[-1] = moved[0]
    return moved


def _slanted_and_turned(paths: list[np.ndarray], rng: np.random.Generator) -> list[np.ndarray]:
    """Every path (m, 2) made wider or narrower by a, slanted by φ and turned by θ about the
    letter's centre, all three drawn at random (step 3 of the module docstring)."""
    theta, phi = np.radians(rng.uniform(*ROTATION)), np.radians(rng.uniform(*SLANT))
    aspect = np.exp(rng.uniform(*LOG_ASPECT))
    everything = np.concatenate(paths)
    centre = (everything.min(axis=0) + everything.max(axis=0)) / 2
    turn = np.array([[np.cos(theta), -np.sin(theta)], [np.sin(theta), np.cos(theta)]])
    out = []
    for path in paths:
        local = path - centre
        slanted = np.stack([aspect * local[:, 0] - np.tan(phi) * local[:, 1], local[:, 1]], 1)
        out.append(slanted @ turn.T + centre)
    return out
