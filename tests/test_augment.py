"""Augmentation, deskewing and the bilinear warp under them."""

import threading

import numpy as np
import pytest

from digitlab.data import load_dataset
from digitlab.data.augment import (
    Augmentation,
    Prefetcher,
    augment,
    augmented_pieces,
    elastic_field,
    gaussian_matrix,
)
from digitlab.data.deskew import deskew, skew_maps
from digitlab.data.warp import bilinear, warp

FULL = Augmentation(rotation=12, scale=0.12, shear=0.15, shift=2.5, elastic_alpha=2.0,
                    elastic_sigma=4.0)


@pytest.fixture(scope="module")
def digits():
    data = load_dataset("mnist-sample", seed=0)
    return data.train.images[:64], data.train.labels[:64]


def test_augmented_pixels_stay_in_unit_range_and_change(digits):
    images, _ = digits
    out = augment(images, FULL, np.random.default_rng(0))
    assert out.shape == images.shape and out.dtype == images.dtype
    assert out.min() >= 0.0 and out.max() <= 1.0
    changed = np.abs(out - images).max(axis=1)
    assert np.all(changed > 0.05)  # every digit really moved
    # ink is roughly conserved (scale ±12 % changes the area by at most ~25 %)
    ratio = out.sum(axis=1) / images.sum(axis=1)
    assert np.all((ratio > 0.6) & (ratio < 1.45))


def test_augmented_pieces_keep_the_labels_aligned_with_the_order(digits):
    images, labels = digits
    order = np.random.default_rng(1).permutation(len(labels))
    # a transform that changes nothing, so each piece must equal the ordered images
    pieces = list(augmented_pieces(images, order, Augmentation(), np.random.default_rng(0),
                                   piece=10))
    np.testing.assert_array_equal(np.concatenate(pieces), images[order])
    assert [len(p) for p in pieces] == [10] * 6 + [4]


def test_same_seed_same_digits_other_seed_other_digits(digits):
    images, _ = digits
    first = augment(images, FULL, np.random.default_rng(7))
    again = augment(images, FULL, np.random.default_rng(7))
    other = augment(images, FULL, np.random.default_rng(8))
    np.testing.assert_array_equal(first, again)
    assert not np.allclose(first, other)


def test_identity_transform_returns_the_image(digits):
    images, _ = digits
    np.testing.assert_array_equal(augment(images, Augmentation(), np.random.default_rng(0)),
                                  images)
    identity = np.broadcast_to(np.eye(2), (len(images), 2, 2)).copy()
    np.testing.assert_array_equal(warp(images, identity, np.zeros((len(images), 2))), images)


def test_whole_pixel_shift_moves_the_image_exactly(digits):
    images, _ = digits
    identity = np.broadcast_to(np.eye(2), (len(images), 2, 2)).copy()
    shift = np.tile([[2.0, -3.0]], (len(images), 1))  # 2 rows down, 3 columns left
    out = warp(images, identity, shift).reshape(-1, 28, 28)
    expected = np.zeros_like(out)
    expected[:, 2:, :25] = images.reshape(-1, 28, 28)[:, :26, 3:]
    np.testing.assert_array_equal(out, expected)


def test_compiled_warp_equals_the_numpy_warp(digits):
    from digitlab.data import warp_compiled
    from digitlab.data.augment import random_affine

    if not warp_compiled.AVAILABLE:
        pytest.skip("Numba is not installed")
    images, _ = digits
    rng = np.random.default_rng(5)
    inverse, shift = random_affine(len(images), FULL, rng)
    field = elastic_field(len(images), 2.0, 4.0, rng)
    centre = rng.uniform(10, 17, (len(images), 2))
    for args, kwargs in (((inverse, shift), {}), ((inverse, shift, field), {}),
                         ((inverse,), {"centre": centre})):
        np.testing.assert_allclose(warp_compiled.warp(images, *args, **kwargs),
                                   warp(images, *args, **kwargs), atol=1e-5)


def test_bilinear_interpolates_between_neighbours():
    image = np.zeros((1, 784), dtype=np.float64)
    image[0, 5 * 28 + 7] = 1.0
    image[0, 5 * 28 + 8] = 0.5
    value = bilinear(image, np.array([[5.0, 5.25, 4.5]]), np.array([[7.5, 7.0, 8.0]]))
    np.testing.assert_allclose(value, [[0.75, 0.75, 0.25]])
    outside = bilinear(image, np.array([[-30.0, 40.0]]), np.array([[7.0, 7.0]]))
    np.testing.assert_array_equal(outside, [[0.0, 0.0]])


def test_rotation_by_the_full_range_turns_the_digit():
    # a horizontal bar turned by 90° in a map that allows only ±90° is vertical or unchanged
    bar = np.zeros((1, 784), dtype=np.float32)
    bar[0, 13 * 28 + 4 : 13 * 28 + 24] = 1.0
    out = augment(np.repeat(bar, 200, axis=0), Augmentation(rotation=90),
                  np.random.default_rng(0)).reshape(-1, 28, 28)
    column_spread = (out.sum(axis=1) > 0.5).sum(axis=1)  # columns the bar covers
    assert column_spread.min() < 8 < column_spread.max()  # some nearly vertical, some not


def test_elastic_field_has_the_requested_size_and_is_smooth():
    field = elastic_field(4, alpha=2.0, sigma=4.0, rng=np.random.default_rng(0))
    assert field.shape == (4, 2, 28, 28)
    np.testing.assert_allclose(np.abs(field).max(axis=(1, 2, 3)), 2.0)
    neighbour_step = np.abs(np.diff(field, axis=3)).max()
    assert neighbour_step < 0.5  # neighbouring pixels move together
    kernel = gaussian_matrix(4.0)
    np.testing.assert_allclose(kernel[14].sum(), 1.0, atol=1e-3)  # mid-image rows keep mass


def test_prefetcher_matches_the_foreground_and_passes_errors_on(digits):
    images, _ = digits
    order = np.arange(len(images))

    def make():
        return augmented_pieces(images, order, FULL, np.random.default_rng(3), piece=16)

    with Prefetcher(make) as background:
        produced = list(background)
    np.testing.assert_array_equal(np.concatenate(produced), np.concatenate(list(make())))

    def failing():
        yield images[:1]
        raise ValueError("broken producer")

    with Prefetcher(failing) as background, pytest.raises(ValueError, match="broken"):
        list(background)


def test_prefetcher_stops_when_closed_early(digits):
    images, _ = digits
    before = threading.active_count()
    background = Prefetcher(lambda: (images for _ in range(1000)), depth=1)
    next(iter(background))
    background.close()
    assert threading.active_count() == before


def test_deskew_straightens_and_centres(digits):
    images, _ = digits
    skew_before = np.abs(skew_maps(images)[0][:, 1, 0])
    straight = deskew(images)
    inverse, centre = skew_maps(straight)
    assert skew_before.mean() > 0.15
    assert np.abs(inverse[:, 1, 0]).max() < 0.05
    np.testing.assert_allclose(centre, 13.5, atol=0.35)
    assert straight.min() >= 0 and straight.max() <= 1
    blank = np.zeros((2, 784), dtype=np.float32)
    np.testing.assert_array_equal(deskew(blank), blank)
