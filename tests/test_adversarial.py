"""Adversarial examples (digitlab.nn.adversarial): the input gradient against central
differences, the projection onto the ε-ball and the pixel box, PGD and FGSM, determinism and the
validation of the attack options. Small float64 networks."""

import itertools

import numpy as np
import pytest

from digitlab.errors import ConfigError
from digitlab.nn import MLP, get_loss
from digitlab.nn.adversarial import (
    AttackOptions,
    adversarial_batch,
    adversarial_count,
    ascent_direction,
    fgsm,
    input_gradient,
    pgd,
    project,
    random_perturbation,
)

FD_EPS = 1e-6
HIDDEN = ["tanh", "sigmoid", "relu", "swish"]
OUTPUTS = [("tanh", "mse"), ("softmax", "mse"), ("softmax", "ce")]
NORMS = ["l2", "linf"]


def small_network(hidden="tanh", output="softmax", n_in=12, seed=0, dtype=np.float64):
    rng = np.random.default_rng(seed)
    return MLP([n_in, 9, 7, 4], [hidden, hidden, output], bias=True, dtype=dtype, init="glorot",
               rng=rng)


def clean_batch(net, loss, batch=16, seed=1):
    """Inputs in [0, 1] with pixels at 0 and at 1 (so the box is active), and their targets."""
    rng = np.random.default_rng(seed)
    x = rng.uniform(0, 1, (batch, net.sizes[0]))
    x[:, :3] = 0.0
    x[:, 3:5] = 1.0
    return x.astype(net.dtype), net.targets(rng.integers(0, net.sizes[-1], batch), loss)


def per_sample_loss(net, x, t, loss):
    return loss.per_sample(net.predict(x), t)


def relative_error(a, b):
    return np.linalg.norm(a - b) / max(np.linalg.norm(a) + np.linalg.norm(b), 1e-12)


def ball_excess(x_adv, x, norm, epsilon):
    """How far each row lies outside the ε-ball around x (≤ 0 inside)."""
    change = x_adv - x
    size = np.abs(change).max(axis=1) if norm == "linf" else np.linalg.norm(change, axis=1)
    return size - epsilon


# ---------------------------------------------------------------------------- input gradient
@pytest.mark.parametrize("hidden,output_loss", list(itertools.product(HIDDEN, OUTPUTS)))
def test_input_gradient_matches_central_differences(hidden, output_loss):
    output, loss_name = output_loss
    net = small_network(hidden, output, n_in=5)
    loss = get_loss(loss_name)
    x, t = clean_batch(net, loss, batch=4)
    x[:] = np.random.default_rng(2).uniform(0.1, 0.9, x.shape)  # away from any box
    E, grad = input_gradient(net, x, t, loss)
    assert E.shape == (4,) and grad.shape == x.shape and grad.dtype == np.float64
    np.testing.assert_allclose(E, per_sample_loss(net, x, t, loss))
    E_ref, grad_ref = input_gradient(net, x, t, loss, reference=True)  # MLP.input_gradient
    np.testing.assert_allclose(E, E_ref, rtol=1e-14)
    np.testing.assert_allclose(grad, grad_ref, rtol=1e-12, atol=1e-15)
    numeric = np.zeros_like(x)
    for b, j in itertools.product(range(x.shape[0]), range(x.shape[1])):
        plus, minus = x.copy(), x.copy()
        plus[b, j] += FD_EPS
        minus[b, j] -= FD_EPS
        # each sample's own E_b: its gradient is not averaged over the batch
        numeric[b, j] = (per_sample_loss(net, plus, t, loss)[b]
                         - per_sample_loss(net, minus, t, loss)[b]) / (2 * FD_EPS)
    assert relative_error(grad, numeric) < 1e-6


@pytest.mark.parametrize("bias", [False, True])
@pytest.mark.parametrize("output_loss", OUTPUTS)
def test_input_gradient_without_weight_gradients_equals_the_network_s_own(output_loss, bias):
    """The attack's input gradient skips ∂Ē/∂W^l and leaves MLP.grads alone; MLP.input_gradient
    gives the same numbers (float64), on a deeper network with every hidden activation."""
    output, loss_name = output_loss
    rng = np.random.default_rng(12)
    net = MLP([30, 20, 16, 12, 8, 5], [*HIDDEN, output], bias=bias, dtype=np.float64, rng=rng)
    loss = get_loss(loss_name)
    x, t = clean_batch(net, loss, batch=7)
    net.grads[...] = 0.5
    E, grad = input_gradient(net, x, t, loss)
    assert (net.grads == 0.5).all()
    E_ref, grad_ref = input_gradient(net, x, t, loss, reference=True)
    np.testing.assert_allclose(E, E_ref, rtol=1e-14)
    np.testing.assert_allclose(grad, grad_ref, rtol=1e-12, atol=1e-15)


def test_ascent_direction_is_the_sign_or_the_unit_vector_and_zero_without_a_gradient():
    grad = np.array([[3.0, -4.0, 0.0], [0.0, 0.0, 0.0]])
    np.testing.assert_array_equal(ascent_direction(grad, "linf"), [[1, -1, 0], [0, 0, 0]])
    np.testing.assert_allclose(ascent_direction(grad, "l2"), [[0.6, -0.8, 0.0], [0, 0, 0]])
    tiny = np.array([[3e-25, -4e-25]], dtype=np.float32)  # its squares underflow in float32
    unit = ascent_direction(tiny, "l2")
    assert unit.dtype == np.float32
    np.testing.assert_allclose(unit, [[0.6, -0.8]], rtol=1e-6)


# ---------------------------------------------------------------------------- projection
@pytest.mark.parametrize("norm", NORMS)
def test_projection_lands_in_the_ball_and_the_box_and_keeps_points_already_there(norm):
    rng = np.random.default_rng(3)
    options = AttackOptions(norm=norm, epsilon=0.3 if norm == "linf" else 1.0)
    clean = rng.uniform(0, 1, (20, 30))
    clean[:, 0], clean[:, 1] = 0.0, 1.0
    far = clean + rng.normal(0, 2.0, clean.shape)
    projected = project(far, clean, options)
    assert (ball_excess(projected, clean, norm, options.epsilon) <= 1e-12).all()
    assert projected.min() >= 0.0 and projected.max() <= 1.0
    np.testing.assert_allclose(project(projected, clean, options), projected, atol=1e-15)
    inside = clean + 0.5 * random_perturbation(options, clean.shape, rng)
    inside = np.clip(inside, 0.0, 1.0)
    np.testing.assert_array_equal(project(inside, clean, options), inside)
    # the L∞ projection is the exact one onto the intersection: clip to the intersected box
    if norm == "linf":
        low = np.maximum(clean - 0.3, 0.0)
        high = np.minimum(clean + 0.3, 1.0)
        np.testing.assert_allclose(projected, np.clip(far, low, high), atol=1e-15)


def test_projection_without_a_box_leaves_pixels_outside_zero_to_one():
    options = AttackOptions(norm="linf", epsilon=0.5, clip=None)
    clean = np.zeros((1, 3))
    np.testing.assert_array_equal(project(np.array([[-2.0, 0.2, 2.0]]), clean, options),
                                  [[-0.5, 0.2, 0.5]])


@pytest.mark.parametrize("norm", NORMS)
def test_random_start_is_inside_the_ball_and_fills_it(norm):
    options = AttackOptions(norm=norm, epsilon=2.0)
    u = random_perturbation(options, (4000, 10), np.random.default_rng(4))
    size = np.abs(u).max(axis=1) if norm == "linf" else np.linalg.norm(u, axis=1)
    assert (size <= 2.0).all()
    if norm == "l2":  # uniform in volume: P(‖u‖ ≤ ε/2) = 2^-d, so nearly all are far out
        assert np.mean(size > 1.0) > 0.99 and np.mean(size > 1.9) > 0.3
    else:
        assert abs(u.mean()) < 0.05 and abs(np.mean(np.abs(u)) - 1.0) < 0.05


# ---------------------------------------------------------------------------- PGD and FGSM
@pytest.mark.parametrize("norm", NORMS)
@pytest.mark.parametrize("random_start", [False, True])
def test_every_pgd_iterate_stays_in_the_ball_and_the_box(norm, random_start):
    net = small_network()
    loss = get_loss("ce")
    x, t = clean_batch(net, loss)
    epsilon = 0.2 if norm == "linf" else 0.8
    options = AttackOptions(norm=norm, epsilon=epsilon, steps=6, random_start=random_start)
    seen = []

    def check(k, iterate):
        seen.append(k)
        assert iterate.shape == x.shape and iterate.dtype == np.float64
        assert (ball_excess(iterate, x, norm, epsilon) <= 1e-12).all()
        assert iterate.min() >= 0.0 and iterate.max() <= 1.0

    x_adv = pgd(net, x, t, loss, options, np.random.default_rng(5), callback=check)
    assert seen == list(range(7))
    check(6, x_adv)
    # the attack uses up the ball (L∞: every row has pixels moved by ε; L2 rows end shorter
    # where the box clips the change)
    if norm == "linf":
        assert (ball_excess(x_adv, x, norm, epsilon) > -1e-12).all()
    else:
        assert (ball_excess(x_adv, x, norm, epsilon) > -0.2 * epsilon).all()


@pytest.mark.parametrize("norm", NORMS)
@pytest.mark.parametrize("output_loss", OUTPUTS)
def test_pgd_raises_the_loss_more_than_a_random_perturbation_of_the_same_size(norm, output_loss):
    output, loss_name = output_loss
    net = small_network("tanh", output, n_in=20, seed=6)
    loss = get_loss(loss_name)
    x, t = clean_batch(net, loss, batch=32, seed=7)
    epsilon = 0.1 if norm == "linf" else 0.4
    options = AttackOptions(norm=norm, epsilon=epsilon, steps=10)
    rng = np.random.default_rng(8)
    x_adv = pgd(net, x, t, loss, options, rng)
    clean_loss = per_sample_loss(net, x, t, loss)
    adv_loss = per_sample_loss(net, x_adv, t, loss)
    assert (adv_loss > clean_loss).all()
    # a random change of the same size per row (a random corner of the ball for L∞, a random
    # direction of the same length for L2), kept in the box
    change = x_adv - x
    if norm == "linf":
        noise = epsilon * rng.choice([-1.0, 1.0], size=x.shape)
    else:
        noise = rng.standard_normal(x.shape)
        noise *= (np.linalg.norm(change, axis=1) / np.linalg.norm(noise, axis=1))[:, None]
    random_loss = per_sample_loss(net, np.clip(x + noise, 0.0, 1.0), t, loss)
    assert adv_loss.mean() > random_loss.mean()
    assert np.mean(adv_loss > random_loss) > 0.9


def test_fgsm_is_one_pgd_step_of_epsilon_from_the_clean_input():
    net = small_network()
    loss = get_loss("ce")
    x, t = clean_batch(net, loss)
    options = AttackOptions.fgsm(0.15)
    assert (options.norm, options.epsilon, options.steps, options.step_size,
            options.random_start) == ("linf", 0.15, 1, 0.15, False)
    _, grad = input_gradient(net, x, t, loss)
    expected = np.clip(x + 0.15 * np.sign(grad), 0.0, 1.0)
    np.testing.assert_array_equal(pgd(net, x, t, loss, options), expected)
    np.testing.assert_array_equal(fgsm(net, x, t, loss, 0.15), expected)
    one_step = AttackOptions(norm="linf", epsilon=0.15, steps=1, step_size=0.15,
                             random_start=False)
    np.testing.assert_array_equal(pgd(net, x, t, loss, one_step, np.random.default_rng(0)),
                                  expected)


def test_l2_step_without_a_gradient_leaves_the_input_unchanged():
    net = small_network()
    net.weights[0][...] = 0.0  # ∂E/∂y⁰ = −δ⁰W⁰ = 0
    loss = get_loss("ce")
    x, t = clean_batch(net, loss)
    x_adv = pgd(net, x, t, loss, AttackOptions(norm="l2", epsilon=1.0, random_start=False))
    np.testing.assert_array_equal(x_adv, x)


@pytest.mark.parametrize("norm", NORMS)
def test_pgd_is_deterministic_given_the_generator(norm):
    net = small_network()
    loss = get_loss("mse")
    x, t = clean_batch(net, loss)
    options = AttackOptions(norm=norm, epsilon=0.3, steps=3)
    first = pgd(net, x, t, loss, options, np.random.default_rng([11, 5, 0]))
    again = pgd(net, x, t, loss, options, np.random.default_rng([11, 5, 0]))
    other = pgd(net, x, t, loss, options, np.random.default_rng([11, 5, 1]))
    np.testing.assert_array_equal(first, again)
    assert not np.array_equal(first, other)


def test_pgd_follows_the_network_dtype_and_does_not_modify_its_input():
    net = small_network(dtype=np.float32)
    loss = get_loss("ce")
    x, t = clean_batch(net, loss)
    kept = x.copy()
    x_adv = pgd(net, x.astype(np.float64), t, loss, AttackOptions(), np.random.default_rng(0))
    assert x_adv.dtype == np.float32
    np.testing.assert_array_equal(x, kept)
    assert adversarial_batch(net, x, t, loss, AttackOptions(), np.random.default_rng(0)
                             ).dtype == np.float32


def test_random_start_needs_a_generator():
    net = small_network()
    loss = get_loss("ce")
    x, t = clean_batch(net, loss)
    with pytest.raises(ConfigError, match="rng"):
        pgd(net, x, t, loss, AttackOptions())


# ---------------------------------------------------------------------------- training batch
@pytest.mark.parametrize("batch,mix,count", [(6, 0.5, 3), (7, 0.5, 4), (1, 0.5, 1), (10, 0.3, 3),
                                             (5, 0.0, 0), (5, 1.0, 5), (8, 0.01, 0)])
def test_adversarial_count_rounds_half_up(batch, mix, count):
    assert adversarial_count(batch, mix) == count


@pytest.mark.parametrize("mix", [0.0, 0.5, 1.0])
def test_adversarial_batch_replaces_the_first_rows_with_their_pgd_examples(mix):
    net = small_network()
    loss = get_loss("ce")
    x, t = clean_batch(net, loss, batch=6)
    options = AttackOptions(norm="l2", epsilon=0.5, steps=4)
    kept = x.copy()
    mixed = adversarial_batch(net, x, t, loss, options, np.random.default_rng(9), mix=mix)
    n = int(6 * mix)
    assert mixed.shape == x.shape and mixed is not x
    np.testing.assert_array_equal(x, kept)
    np.testing.assert_array_equal(mixed[n:], x[n:])
    if n:
        attacked = pgd(net, x[:n], t[:n], loss, options, np.random.default_rng(9))
        np.testing.assert_array_equal(mixed[:n], attacked)
        assert (np.abs(mixed[:n] - x[:n]).max(axis=1) > 0).all()


# ---------------------------------------------------------------------------- validation
@pytest.mark.parametrize("changes,field", [
    (dict(norm="l1"), "norm"), (dict(epsilon=0), "epsilon"), (dict(epsilon=-0.1), "epsilon"),
    (dict(epsilon=float("nan")), "epsilon"), (dict(epsilon="0.1"), "epsilon"),
    (dict(steps=0), "steps"), (dict(steps=2.0), "steps"), (dict(steps=True), "steps"),
    (dict(step_size=0.0), "step_size"), (dict(step_size=float("inf")), "step_size"),
    (dict(random_start="yes"), "random_start"), (dict(clip=(1.0, 0.0)), "clip"),
    (dict(clip=(0.0,)), "clip"), (dict(clip=(0.0, float("nan"))), "clip"),
])
def test_invalid_options_raise_one_line_naming_the_field_and_value(changes, field):
    with pytest.raises(ConfigError) as error:
        AttackOptions(**changes)
    message = str(error.value)
    assert "\n" not in message
    assert message.startswith(f"attack option {field} ")
    assert repr(changes[field]) in message


@pytest.mark.parametrize("mix", [-0.1, 1.5, float("nan"), "half"])
def test_mix_outside_zero_to_one_is_refused_in_one_line(mix):
    net = small_network()
    loss = get_loss("ce")
    x, t = clean_batch(net, loss)
    with pytest.raises(ConfigError, match=r"^attack option mix must be in \[0, 1\], got ") as error:
        adversarial_batch(net, x, t, loss, AttackOptions(), np.random.default_rng(0), mix=mix)
    assert "\n" not in str(error.value)


def test_options_default_step_size_and_list_clip():
    options = AttackOptions(epsilon=0.2, steps=5, clip=[0, 1])
    assert options.alpha == pytest.approx(0.1) and options.clip == (0, 1)
    assert AttackOptions(epsilon=0.2, steps=5, step_size=0.07).alpha == 0.07
    hash(options)  # frozen: usable as a key
