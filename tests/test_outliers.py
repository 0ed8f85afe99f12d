"""Outlier exposure: the loss and its gradient, that it is the ordinary cross-entropy against the
uniform target, and the outlier images to train on."""

import ast
from pathlib import Path

import numpy as np
import pytest

from digitlab.data import outliers
from digitlab.data.outliers import (
    KIND_RELATION,
    TRAINING_KINDS,
    UNSEEN_KINDS,
    OutlierSource,
    generate_outliers,
    uniform_targets,
)
from digitlab.errors import DataError
from digitlab.nn.activations import Softmax
from digitlab.nn.losses import CrossEntropy
from digitlab.nn.network import MLP
from digitlab.nn.outlier_loss import outlier_exposure_gradient, outlier_exposure_loss
from digitlab.similarity import most_similar

K = 10
N = 10
#: kinds whose images need no Fashion-MNIST on disk
LOCAL_KINDS = [kind for kind in TRAINING_KINDS if kind != "fashion"]


def logits(b=6, seed=0, scale=3.0):
    return np.random.default_rng(seed).normal(0.0, scale, (b, K))


def stand_in_digits(n=20, seed=0):
    """Digit-like images: a few bright strokes of rows and columns on black."""
    rng = np.random.default_rng(seed)
    images = np.zeros((n, 28, 28), dtype=np.float32)
    for image in images:
        top, left = rng.integers(4, 10, 2)
        image[top : top + 16, left : left + 3] = 1.0  # a vertical bar
        image[top : top + 3, left : left + 12] = rng.uniform(0.5, 1.0)  # a bar across
    return images.reshape(n, 784)


# ---------------------------------------------------------------------- the loss
def test_loss_gradient_matches_central_differences():
    z = logits()
    h = 1e-6
    numeric = np.empty_like(z)
    for k in range(K):
        step = np.zeros_like(z)
        step[:, k] = h
        up, down = outlier_exposure_loss(z + step), outlier_exposure_loss(z - step)
        numeric[:, k] = (up - down) / (2 * h)
    np.testing.assert_allclose(outlier_exposure_gradient(z), numeric, rtol=1e-6, atol=1e-9)


def test_loss_is_least_at_the_uniform_output_and_stable_for_large_logits():
    np.testing.assert_allclose(outlier_exposure_loss(np.full((3, K), 5.0)), np.log(K), rtol=1e-12)
    assert np.all(outlier_exposure_loss(logits()) > np.log(K))
    z = logits() * 1e3  # exp would overflow without the shift
    assert np.all(np.isfinite(outlier_exposure_loss(z)))
    assert np.all(outlier_exposure_loss(z) > np.log(K))
    gradient = outlier_exposure_gradient(z)
    assert np.all(np.isfinite(gradient))
    np.testing.assert_allclose(gradient.sum(axis=1), 0.0, atol=1e-12)


def test_loss_is_cross_entropy_against_the_uniform_target():
    """CrossEntropy.per_sample is H(u, p) = −Σ u_k log p_k, the cross-entropy itself (not
    KL(u ‖ p) = H(u, p) − log K), so it equals the outlier-exposure loss with no constant."""
    z = logits()
    p = Softmax().forward(z)
    u = uniform_targets(len(z), K, np.float64)
    np.testing.assert_allclose(CrossEntropy().per_sample(p, u), outlier_exposure_loss(z),
                               rtol=1e-12)


def test_cross_entropy_gradient_with_uniform_targets_is_the_outlier_gradient():
    z = logits()
    p = Softmax().forward(z)
    u = uniform_targets(len(z), K, np.float64)
    # the unfused chain: ∂E/∂y = −t / y through the softmax Jacobian
    chained = Softmax().backward(CrossEntropy().output_gradient(p, u), z, p)
    np.testing.assert_allclose(chained, outlier_exposure_gradient(z), atol=1e-12)
    # the fused form the network trains with: δ = −∂E/∂z = t − y
    net = MLP([7, 5, K], ["tanh", "softmax"], dtype=np.float64, rng=np.random.default_rng(1))
    x = np.random.default_rng(2).random((4, 7))
    fp = net.forward(x)
    delta = net.output_delta(fp, uniform_targets(4, K, np.float64), CrossEntropy())
    np.testing.assert_allclose(-delta, outlier_exposure_gradient(fp.zs[-1]), atol=1e-12)


def test_uniform_targets():
    t = uniform_targets(3, K, np.float32)
    assert t.shape == (3, K) and t.dtype == np.float32
    np.testing.assert_allclose(t.sum(axis=1), 1.0, rtol=1e-6)
    assert np.all(t == np.float32(0.1))


# ---------------------------------------------------------------------- the images
@pytest.mark.parametrize("kind", LOCAL_KINDS)
def test_generator_shape_range_and_determinism(kind):
    digits = stand_in_digits()
    first = generate_outliers(kind, N, np.random.default_rng(1), digits)
    assert first.shape == (N, 784) and first.dtype == np.float32
    assert first.min() >= 0.0 and first.max() <= 1.0
    again = generate_outliers(kind, N, np.random.default_rng(1), digits)
    np.testing.assert_array_equal(first, again)
    other = generate_outliers(kind, N, np.random.default_rng(2), digits)
    assert not np.array_equal(first, other), "another seed should give other images"


@pytest.mark.parametrize("kind", ["scribbles", "strokes", "glyphs", "blobs", "overlays"])
def test_every_image_has_ink(kind):
    images = generate_outliers(kind, N, np.random.default_rng(3), stand_in_digits())
    assert np.all(images.max(axis=1) > 0.3)


def test_pieces_are_parts_of_their_digits():
    digits = stand_in_digits()
    images = outliers.pieces(N, np.random.default_rng(4), digits)
    whole_ink = digits.sum(axis=1).min()
    assert np.all(images.sum(axis=1) < whole_ink)  # less ink than any whole digit


@pytest.mark.parametrize("kind", ["strokes", "glyphs"])
def test_pen_drawings_that_look_like_a_training_digit_are_drawn_again(kind):
    draw = outliers.OUTLIER_GENERATORS[kind]
    drawn = draw(N, np.random.default_rng(6))  # no digits: nothing is drawn again
    again = draw(N, np.random.default_rng(6), digits=drawn)
    assert not np.any(np.all(again == drawn, axis=1))  # each was its own digit: all redrawn
    assert np.all(most_similar(again, drawn)[1] < outliers.DIGIT_LIKE)
    unlike = draw(N, np.random.default_rng(6), digits=1.0 - drawn)
    np.testing.assert_array_equal(unlike, drawn)  # nothing digit-like: nothing drawn again


def test_strokes_mostly_meet_like_the_strokes_of_a_character():
    from scipy.ndimage import label

    images = outliers.strokes(100, np.random.default_rng(5)).reshape(-1, 28, 28)
    pieces = np.array([label(image > 0.3)[1] for image in images])
    assert np.mean(pieces == 1) >= 0.9  # scattered strokes (JOINED = 0): 0.83


def test_glyphs_span_the_height_of_their_box_and_hold_together():
    from scipy.ndimage import label

    rng = np.random.default_rng(7)
    for _ in range(200):  # without the rule a third of them reach less than 0.75 of the height
        ys = np.concatenate(outliers._grid_glyph_paths(rng))[:, 1]
        assert ys.min() <= 0.15 and ys.max() >= 0.85  # the top and bottom rows, jittered
    images = outliers.glyphs(50, np.random.default_rng(8)).reshape(-1, 28, 28)
    assert all(label(image > 0.3)[1] == 1 for image in images)  # strokes start on used points


@pytest.mark.parametrize("kind", sorted(outliers.DIGIT_KINDS))
def test_digit_kinds_need_digits(kind):
    with pytest.raises(ValueError, match="digits"):
        generate_outliers(kind, 2, np.random.default_rng(0))


def test_unknown_kind():
    with pytest.raises(ValueError, match="unknown outlier kind"):
        generate_outliers("letters", 2, np.random.default_rng(0))


def test_no_letters_or_fonts_among_the_training_kinds():
    assert not set(TRAINING_KINDS) & {"letters", "drawn_letters", "checkerboard"}
    assert set(UNSEEN_KINDS) >= {"letters", "drawn_letters", "checkerboard", "inverted_digits",
                                 "rotated_90", "rotated_180", "all_white"}
    with pytest.raises(ValueError, match="unknown outlier kind"):
        generate_outliers("drawn_letters", 2, np.random.default_rng(0))
    tree = ast.parse(Path(outliers.__file__).read_text())
    imported = {alias.name for node in ast.walk(tree)
                if isinstance(node, (ast.Import, ast.ImportFrom)) for alias in node.names}
    modules = {node.module for node in ast.walk(tree)
               if isinstance(node, ast.ImportFrom) and node.module}
    assert "ImageFont" not in imported and "digitlab.analysis" not in modules
    assert not any(name.startswith("digitlab.analysis") for name in imported | modules)
    assert ".ttf" not in Path(outliers.__file__).read_text()


def test_kind_relation_covers_every_nondigit_kind():
    from digitlab.analysis.nondigits import KINDS

    assert set(KIND_RELATION) == set(KINDS)
    assert set(KIND_RELATION.values()) <= {"trained", "related", "unseen"}
    assert UNSEEN_KINDS == tuple(k for k in KINDS if KIND_RELATION[k] == "unseen")


# ---------------------------------------------------------------------- Fashion-MNIST
def absent(*args, **kwargs):
    raise DataError("fashion-mnist is not available locally")


@pytest.fixture
def fresh_fashion_cache():
    """The Fashion-MNIST images are read once per process: forget them around the test."""
    outliers.load_fashion_training_images.cache_clear()
    yield
    outliers.load_fashion_training_images.cache_clear()


def test_fashion_is_skipped_when_absent(monkeypatch, fresh_fashion_cache):
    monkeypatch.setattr("digitlab.data.datasets.load_dataset", absent)
    assert outliers.load_fashion_training_images() is None
    assert outliers.fashion(3, np.random.default_rng(0)) is None
    source = OutlierSource(stand_in_digits(), seed=0, pool_size=50)
    assert source.kinds == tuple(LOCAL_KINDS) and len(source) == 50
    with pytest.raises(ValueError, match="no outlier kind"):
        OutlierSource(stand_in_digits(), seed=0, kinds=["fashion"], pool_size=5)


def test_fashion_draws_from_given_images():
    images = np.random.default_rng(0).random((30, 784), dtype=np.float32)
    drawn = outliers.fashion(5, np.random.default_rng(1), images=images)
    assert drawn.shape == (5, 784)
    assert all(any(np.array_equal(row, image) for image in images) for row in drawn)


# ---------------------------------------------------------------------- the pool
def test_source_pool_and_batches_are_deterministic():
    digits = stand_in_digits()
    weights = outliers.POOL_WEIGHTS
    pool = 10 * int(sum(weights[kind] for kind in TRAINING_KINDS))
    fashion_images = np.random.default_rng(9).random((40, 784), dtype=np.float32)
    a = OutlierSource(digits, seed=3, pool_size=pool, fashion_images=fashion_images)
    b = OutlierSource(digits, seed=3, pool_size=pool, fashion_images=fashion_images)
    assert a.kinds == TRAINING_KINDS
    assert a.pool.shape == (pool, 784) and a.pool.dtype == np.float32
    np.testing.assert_array_equal(a.pool, b.pool)
    np.testing.assert_array_equal(np.bincount(a.pool_kinds),
                                  [10 * weights[kind] for kind in TRAINING_KINDS])
    assert not np.array_equal(a.pool, OutlierSource(digits, seed=4, pool_size=pool,
                                                    fashion_images=fashion_images).pool)
    first = a.batch(16, np.random.default_rng([3, 17, 0]))
    np.testing.assert_array_equal(first, b.batch(16, np.random.default_rng([3, 17, 0])))
    assert first.shape == (16, 784) and first.dtype == np.float32
    assert a.batch(4, np.random.default_rng(0), dtype=np.float64).dtype == np.float64
    # a kind keeps its own stream whichever others are in the pool
    alone = OutlierSource(digits, seed=3, kinds=["blobs"], pool_size=10)
    np.testing.assert_array_equal(alone.pool, a.pool[a.pool_kinds == TRAINING_KINDS.index("blobs")])


def test_pool_shares_are_whole_numbers_in_proportion():
    assert outliers.pool_shares(12, [1, 1, 1, 1]) == [3, 3, 3, 3]
    assert outliers.pool_shares(10, [1, 1, 1]) == [4, 3, 3]  # the remainder to the first
    assert outliers.pool_shares(9, [1, 6, 1.5]) == [1, 6, 2]
    assert sum(outliers.pool_shares(5000, [1, 1, 1, 1, 1, 1, 6])) == 5000


def test_a_pool_is_made_once_for_the_same_seed_digits_and_kinds(monkeypatch):
    digits = stand_in_digits()
    made = []
    monkeypatch.setattr(outliers, "_POOLS", outliers.OrderedDict())
    real = outliers._make_pool
    monkeypatch.setattr(outliers, "_make_pool", lambda *a: made.append(a) or real(*a))
    first = OutlierSource(digits, seed=3, kinds=["strokes", "blobs"], pool_size=20)
    again = OutlierSource(digits.copy(), seed=3, kinds=["strokes", "blobs"], pool_size=20)
    assert again.pool is first.pool and len(made) == 1  # a resumed run: the same pool
    other = OutlierSource(digits[::-1].copy(), seed=3, kinds=["strokes", "blobs"], pool_size=20)
    assert len(made) == 2 and other.pool is not first.pool  # other digits: made anew
    assert not first.pool.flags.writeable and not first.pool_kinds.flags.writeable


def test_source_rejects_unknown_kinds():
    with pytest.raises(ValueError, match="unknown outlier kinds"):
        OutlierSource(stand_in_digits(), seed=0, kinds=["letters"])
