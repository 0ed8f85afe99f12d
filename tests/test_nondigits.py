"""Generators of images that are not digits: shapes, value ranges, determinism per seed, and
that each kind is what its name says."""

import numpy as np
import pytest

from digitlab.analysis.nondigits import (
    KINDS,
    SHIFT_PIXELS,
    generate,
    letter_templates,
    make_nondigit_sets,
)

N = 12


def source_digits(n=5, seed=0):
    """Stand-ins for test digits: random images in [0, 1]."""
    return np.random.default_rng(seed).random((n, 784), dtype=np.float32)


@pytest.mark.parametrize("kind", list(KINDS))
def test_shape_range_and_determinism(kind):
    source = source_digits()
    first = generate(kind, N, 1, source)
    assert first.shape == (N, 784) and first.dtype == np.float32
    assert first.min() >= 0.0 and first.max() <= 1.0
    np.testing.assert_array_equal(first, generate(kind, N, 1, source))  # same seed, same array
    other = generate(kind, N, 2, source)
    if KINDS[kind].random:
        assert not np.array_equal(first, other), "a different seed should change the images"
    else:
        np.testing.assert_array_equal(first, other)


def test_seed_may_be_a_generator():
    a = generate("uniform_noise", 4, np.random.default_rng(7))
    np.testing.assert_array_equal(a, generate("uniform_noise", 4, 7))


def test_constant_kinds():
    assert generate("all_black", 3).max() == 0.0
    assert generate("all_white", 3).min() == 1.0
    boards = generate("checkerboard", 20, 0)
    assert set(np.unique(boards)) == {0.0, 1.0}
    assert np.all(np.abs(boards.mean(axis=1) - 0.5) < 0.2)  # about half the squares are ink


def test_gaussian_noise_imitates_mnist_pixels():
    noise = generate("gaussian_noise", 200, 0)
    assert 0.15 < noise.mean() < 0.25  # N(0.13, 0.31²) clipped at 0 raises the mean a little


def test_derived_kinds_transform_their_source():
    source = source_digits(3)
    images = source.reshape(3, 28, 28)
    np.testing.assert_allclose(generate("inverted_digits", 3, 0, source), 1 - source)
    turned = generate("rotated_180", 3, 0, source).reshape(3, 28, 28)
    np.testing.assert_array_equal(turned, images[:, ::-1, ::-1])
    quarter = generate("rotated_90", 3, 0, source).reshape(3, 28, 28)
    np.testing.assert_array_equal(quarter[0], np.rot90(images[0]))
    cycled = generate("fashion_mnist", 5, 0, source)  # 5 images from 3: cycled in order
    np.testing.assert_array_equal(cycled[3], source[0])


def test_shift_moves_a_dot_by_eight_pixels():
    dot = np.zeros((1, 28, 28), np.float32)
    dot[0, 14, 14] = 1.0
    shifted = generate("shifted_digits", 40, 3, dot.reshape(1, 784)).reshape(40, 28, 28)
    positions = {tuple(np.argwhere(image)[0]) for image in shifted}
    assert all(image.sum() == 1.0 for image in shifted)  # the dot stays inside the frame
    expected = {(14 + dy, 14 + dx) for dy in (-SHIFT_PIXELS, 0, SHIFT_PIXELS)
                for dx in (-SHIFT_PIXELS, 0, SHIFT_PIXELS) if dy or dx}
    assert positions <= expected and len(positions) > 4  # several of the eight directions


def test_letters_are_centred_like_mnist():
    templates = letter_templates().reshape(-1, 28, 28)
    assert len(templates) == 52  # A–Z, regular and bold
    assert len({t.tobytes() for t in templates}) == 52  # all different
    for t in templates:
        rows, cols = np.nonzero(t > 0.05)
        assert max(np.ptp(rows), np.ptp(cols)) + 1 <= 21  # box fitted to 20 px (+1 for filtering)
        mass = t.sum()
        centre = (t.sum(axis=1) @ np.arange(28) / mass, t.sum(axis=0) @ np.arange(28) / mass)
        assert abs(centre[0] - 14) <= 0.51 and abs(centre[1] - 14) <= 0.51  # whole-pixel shift


def test_source_kinds_need_a_source():
    with pytest.raises(ValueError, match="source"):
        generate("rotated_90", 3, 0)


def test_make_sets_keeps_the_source_labels():
    labels = np.arange(10)
    digits = np.repeat((labels / 10.0)[:, None], 784, axis=1).astype(np.float32)  # value = label
    sets = make_nondigit_sets(digits, labels, 25, seed=4)
    assert "fashion_mnist" not in sets  # no Fashion-MNIST images given
    inverted = sets["inverted_digits"]
    np.testing.assert_allclose(1 - inverted.images[:, 0], inverted.source_labels / 10.0,
                               atol=1e-6)
    assert sets["letters"].source_labels is None
    again = make_nondigit_sets(digits, labels, 25, seed=4)
    for name in sets:
        np.testing.assert_array_equal(sets[name].images, again[name].images)
    with_fashion = make_nondigit_sets(digits, labels, 5, seed=4, fashion=source_digits(8))
    assert with_fashion["fashion_mnist"].images.shape == (5, 784)


def test_digits_upside_down_that_stay_digits_are_not_judged_as_non_digits():
    labels = np.arange(10)
    digits = np.repeat((labels / 10.0)[:, None], 784, axis=1).astype(np.float32)
    sets = make_nondigit_sets(digits, labels, 40, seed=1)
    turned = sets["rotated_180"]
    kept = turned.not_digits()
    assert 0 < len(kept) < len(turned.images)
    # each image holds its source label / 10 in every pixel: none of 0, 1, 6, 8, 9 is kept
    assert set(np.round(kept[:, 0] * 10).astype(int)) <= {2, 3, 4, 5, 7}
    assert sets["rotated_90"].not_digits() is sets["rotated_90"].images
    assert sets["letters"].not_digits() is sets["letters"].images


def stroke_widths(images):
    """Each image's stroke width in px, (n,): 2 · ink area / length of the ink's outline, both at
    the level 0.5 (a thin stroke's outline runs along both its sides)."""
    ink = np.asarray(images).reshape(-1, 28, 28) > 0.5
    outline = (ink[:, 1:] != ink[:, :-1]).sum(axis=(1, 2)) \
        + (ink[:, :, 1:] != ink[:, :, :-1]).sum(axis=(1, 2))
    return 2 * ink.sum(axis=(1, 2)) / np.maximum(outline, 1)


def test_drawn_letters_are_pen_strokes_centred_like_mnist():
    images = generate("drawn_letters", 60, 5)
    lit = (images > 0.5).mean(axis=1)  # MNIST's digits: 4–29 % of the pixels, median 13 %
    assert lit.min() > 0.04 and lit.max() < 0.32 and 0.09 < np.median(lit) < 0.2
    widths = stroke_widths(images)  # MNIST's digits: median 1.9 px, 80 % within 1.4–2.8 px
    assert 1.6 < np.median(widths) < 2.4 and widths.max() < 3.5
    grid = np.arange(28)
    for image in images.reshape(-1, 28, 28):
        rows, cols = np.nonzero(image > 0.05)
        assert max(np.ptp(rows), np.ptp(cols)) + 1 <= 22  # the ink scaled into 20 × 20
        mass = image.sum()
        centre = (image.sum(axis=1) @ grid / mass, image.sum(axis=0) @ grid / mass)
        assert abs(centre[0] - 14) <= 0.51 and abs(centre[1] - 14) <= 0.51


def test_each_drawn_letter_is_nearest_to_drawings_of_itself():
    from digitlab.analysis.drawn_letters import LETTERS, SKELETONS, draw_letter

    assert tuple(SKELETONS) == tuple(LETTERS) == tuple("ABCDEFGHIJKLMNOPQRSTUVWXYZ")
    rng = np.random.default_rng(0)
    images = np.stack([draw_letter(letter, rng) for _ in range(3) for letter in LETTERS])
    labels = np.tile(np.arange(26), 3)
    distances = ((images[:, None] - images[None]) ** 2).sum(axis=-1)  # (78, 78)
    np.fill_diagonal(distances, np.inf)
    assert np.mean(labels[distances.argmin(axis=1)] == labels) > 0.8  # 26 different shapes
    assert len({image.tobytes() for image in images}) == len(images)  # no two drawings alike


def test_drawn_letters_seed_may_be_a_generator():
    from digitlab.analysis.drawn_letters import drawn_letters

    np.testing.assert_array_equal(drawn_letters(3, np.random.default_rng(9)), drawn_letters(3, 9))


def test_a_pen_curve_passes_through_its_control_points():
    from digitlab.data.pen import pen_path

    points = np.array([(0.1, 0.0), (0.8, 0.2), (0.5, 0.6), (0.9, 1.0)])
    path = pen_path(points, smooth=True)
    assert len(path) > 3 * len(points)
    assert all(np.min(np.abs(path - p).sum(axis=1)) < 1e-12 for p in points)
    steps = np.linalg.norm(np.diff(path, axis=0), axis=1)
    assert steps.max() < 0.2  # drawn in short steps, no jumps
    ring = np.array([(0.5, 0.0), (0.0, 0.5), (0.5, 1.0), (1.0, 0.5), (0.5, 0.0)])
    closed = pen_path(ring, smooth=True)
    np.testing.assert_allclose(closed[0], closed[-1])
    np.testing.assert_array_equal(pen_path(points, smooth=False), points)  # straight: as given
