"""A round pen, as on the lab's sheet: strokes through points, drawn and read as a drawing.

Both kinds of image drawn in pen strokes use it: the letters a person draws
(:mod:`digitlab.analysis.drawn_letters`, judged, never trained on) and the random strokes of
outlier exposure (:func:`digitlab.data.outliers.strokes` and
:func:`~digitlab.data.outliers.glyphs`). A drawing is

1. a list of paths, each (m, 2) points (x to the right, y down) the pen passes through:
   :func:`pen_path` makes one from a stroke's control points, straight from point to point or
   a smooth Catmull–Rom curve through them;
2. inked white on black by a round pen of one width (:func:`ink`: a disc at every point and a
   bar between neighbours, so joins and ends are round);
3. read as the lab reads a drawing (:func:`pen_drawing`):
   :func:`digitlab.images.prepare_digit` crops the ink, scales its longer side to 20 px and puts
   its centre of mass at the centre of 28 × 28.
"""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw

from digitlab.images import prepare_digit

#: the range of the pen's width, a share of the drawing's height: the lab's pen (7.5 % of the
#: sheet) on a drawing that fills 35–80 % of it. After prepare_digit drawn letters' strokes are
#: 1.5–2.7 px wide (10th–90th percentile; median 2.1), MNIST's test digits 1.4–2.8 px (median
#: 1.9), each measured as 2 · ink area / length of the ink's outline
PEN_WIDTH = (0.09, 0.21)
HEIGHT_PX = 96  # a drawing's height on the canvas it is inked on, before prepare_digit
SAMPLES_PER_SPAN = 8  # points drawn between two control points of a curve


def pen_path(points: np.ndarray, smooth: bool) -> np.ndarray:
    """The points (m, 2) the pen passes: the control points (k, 2) themselves for a straight
    stroke, else :data:`SAMPLES_PER_SPAN` points per span of the (uniform) Catmull–Rom spline
    through them, for the span from p₁ to p₂ at t in [0, 1)

        q(t) = ½ · [2 p₁ + (p₂ − p₀) t + (2 p₀ − 5 p₁ + 4 p₂ − p₃) t² + (3 p₁ − p₀ − 3 p₂ + p₃) t³],

    with the end points doubled (an open curve) or the neighbours wrapped (a closed one, whose
    last point is its first)."""
    if not smooth or len(points) < 3:
        return points
    closed = np.array_equal(points[0], points[-1])
    if closed:
        padded = np.concatenate([points[-2:-1], points, points[1:2]])
    else:
        padded = np.concatenate([points[:1], points, points[-1:]])
    t = np.linspace(0.0, 1.0, SAMPLES_PER_SPAN, endpoint=False)[:, None]  # (s, 1)
    spans = []
    for p0, p1, p2, p3 in zip(padded, padded[1:], padded[2:], padded[3:], strict=False):
        spans.append(0.5 * (2 * p1 + (p2 - p0) * t + (2 * p0 - 5 * p1 + 4 * p2 - p3) * t**2
                            + (3 * p1 - p0 - 3 * p2 + p3) * t**3))
    return np.concatenate([*spans, points[-1:]])


def ink(paths: list[np.ndarray], pen: float) -> np.ndarray:
    """The paths (each (m, 2), in pixels) drawn white on black with a round pen ``pen`` px wide
    on a canvas that holds them with a margin: (H, W) float in [0, 1]."""
    everything = np.concatenate(paths)
    margin = pen
    origin = everything.min(axis=0) - margin
    width, height = np.ceil(everything.max(axis=0) - origin + margin).astype(int)
    canvas = Image.new("L", (int(width), int(height)), 0)
    draw = ImageDraw.Draw(canvas)
    radius = pen / 2
    for path in paths:
        points = [tuple(point) for point in (path - origin).tolist()]
        if len(points) > 1:
            draw.line(points, fill=255, width=max(1, round(pen)))
        for x, y in points:  # round joins and ends
            draw.ellipse([x - radius, y - radius, x + radius, y + radius], fill=255)
    return np.asarray(canvas, dtype=np.float64) / 255.0


def pen_drawing(paths: list[np.ndarray], rng: np.random.Generator) -> np.ndarray:
    """Paths (each (m, 2)) in a box of height about 1, inked with a pen of a width drawn from
    :data:`PEN_WIDTH` and read as the lab reads a drawing: (784,) float32 in [0, 1]."""
    pen = rng.uniform(*PEN_WIDTH) * HEIGHT_PX
    return prepare_digit(ink([path * HEIGHT_PX for path in paths], pen))
