"""The engine against arithmetic done by hand: one per-sample update of equation (2) on a tiny
network, and the optimizers against their textbook formulas."""

import math

import numpy as np
import pytest

from digitlab.nn import MLP, SGD, Adam, get_loss
from digitlab.nn.optimizers import CHUNK

# ---------------------------------------------------------------------------------------------
# A 2-3-2 network, tanh everywhere, no bias, E = ½‖y − t‖² with ±1 targets, one sample, η = 0.1.
#
#   x = y⁰ = (0.8, 0.3), digit 0, so t = (+1, −1)
#
#   W⁰ = [[ 0.1, −0.2],        W¹ = [[ 0.2, −0.1, 0.4],
#         [ 0.3,  0.4],              [−0.3,  0.5, 0.1]]
#         [−0.5,  0.2]]
#
# Forward:
#   z⁰ = W⁰ y⁰ = (0.08 − 0.06, 0.24 + 0.12, −0.40 + 0.06) = (0.02, 0.36, −0.34)
#   y¹ = tanh z⁰ = (0.0199973, 0.3452140, −0.3274774)
#   z¹ = W¹ y¹ = (0.2·0.0199973 − 0.1·0.3452140 + 0.4·(−0.3274774),
#                −0.3·0.0199973 + 0.5·0.3452140 + 0.1·(−0.3274774))
#      = (−0.1615129, 0.1338601)
#   y² = tanh z¹ = (−0.1601230, 0.1330662)
#   E  = ½ ((−0.1601230 − 1)² + (0.1330662 + 1)²) = ½ (1.3458853 + 1.2838391) = 1.3148622
#
# Equation (1), output layer: δ¹ = −(y² − t) ⊙ (1 − (y²)²)
#   δ¹₀ = −(−1.1601230)(1 − 0.0256394) = 1.1303782
#   δ¹₁ = −( 1.1330662)(1 − 0.0177066) = −1.1130035
# Equation (1), hidden layer: δ⁰ = (δ¹ W¹) ⊙ (1 − (y¹)²)
#   δ¹W¹ = (0.2·1.1303782 + (−0.3)(−1.1130035), −0.1·1.1303782 + 0.5·(−1.1130035),
#           0.4·1.1303782 + 0.1·(−1.1130035)) = (0.5599767, −0.6695395, 0.3408509)
#   δ⁰ = (0.5599767 · 0.9996001, −0.6695395 · 0.8808273, 0.3408509 · 0.8927586)
#      = (0.5597527, −0.5897487, 0.3042976)
# Equation (2): ΔW^l_ij = η δ^l_i y^l_j
#   ΔW¹ = 0.1 · δ¹ ⊗ y¹ = [[ 0.0022605,  0.0390222, −0.0370173],
#                         [−0.0022257, −0.0384224,  0.0364483]]
#   ΔW⁰ = 0.1 · δ⁰ ⊗ y⁰ = [[ 0.0447802,  0.0167926],
#                         [−0.0471799, −0.0176925],
#                         [ 0.0243438,  0.0091289]]
# ---------------------------------------------------------------------------------------------
X = [0.8, 0.3]
T = [1.0, -1.0]
W0 = [[0.1, -0.2], [0.3, 0.4], [-0.5, 0.2]]
W1 = [[0.2, -0.1, 0.4], [-0.3, 0.5, 0.1]]
ETA = 0.1


def hand_update():
    """The arithmetic above in plain Python floats (no NumPy, no engine)."""
    z0 = [sum(W0[i][j] * X[j] for j in range(2)) for i in range(3)]
    y1 = [math.tanh(z) for z in z0]
    z1 = [sum(W1[i][j] * y1[j] for j in range(3)) for i in range(2)]
    y2 = [math.tanh(z) for z in z1]
    loss = 0.5 * sum((y2[i] - T[i]) ** 2 for i in range(2))
    delta1 = [-(y2[i] - T[i]) * (1 - y2[i] ** 2) for i in range(2)]
    delta0 = [sum(delta1[k] * W1[k][i] for k in range(2)) * (1 - y1[i] ** 2) for i in range(3)]
    new_w1 = [[W1[i][j] + ETA * delta1[i] * y1[j] for j in range(3)] for i in range(2)]
    new_w0 = [[W0[i][j] + ETA * delta0[i] * X[j] for j in range(2)] for i in range(3)]
    return loss, delta1, delta0, new_w0, new_w1


def tiny_network(dtype=np.float64):
    net = MLP([2, 3, 2], ["tanh", "tanh"], bias=False, dtype=dtype)
    net.weights[0][...] = W0
    net.weights[1][...] = W1
    return net


def test_hand_arithmetic_matches_the_numbers_in_the_comments():
    loss, delta1, delta0, new_w0, new_w1 = hand_update()
    assert loss == pytest.approx(1.3148622, abs=1e-7)
    assert delta1 == pytest.approx([1.1303782, -1.1130035], abs=1e-7)
    assert delta0 == pytest.approx([0.5597527, -0.5897487, 0.3042976], abs=1e-7)
    assert new_w1[0] == pytest.approx([0.2 + 0.0022605, -0.1 + 0.0390222, 0.4 - 0.0370173],
                                      abs=1e-7)
    assert new_w1[1] == pytest.approx([-0.3 - 0.0022257, 0.5 - 0.0384224, 0.1 + 0.0364483],
                                      abs=1e-7)
    assert new_w0 == [pytest.approx(row, abs=1e-7) for row in (
        [0.1 + 0.0447802, -0.2 + 0.0167926], [0.3 - 0.0471799, 0.4 - 0.0176925],
        [-0.5 + 0.0243438, 0.2 + 0.0091289])]


def test_one_sgd_step_is_equation_2():
    loss_expected, _, _, new_w0, new_w1 = hand_update()
    net, loss = tiny_network(), get_loss("mse")
    x = np.array([X])  # (1, 2)
    t = net.targets(np.array([0]), loss)  # (1, 2)
    np.testing.assert_array_equal(t, [T])

    mean_loss = net.loss_and_gradients(x, t, loss)
    SGD(lr=ETA).step(net.params, net.grads)

    assert mean_loss == pytest.approx(loss_expected, rel=1e-12)
    np.testing.assert_allclose(net.weights[0], new_w0, rtol=0, atol=1e-14)
    np.testing.assert_allclose(net.weights[1], new_w1, rtol=0, atol=1e-14)


def test_hidden_deltas_are_equation_1():
    _, delta1, delta0, _, _ = hand_update()
    net, loss = tiny_network(), get_loss("mse")
    x = np.array([X])
    net.loss_and_gradients(x, net.targets(np.array([0]), loss), loss)
    # with B = 1: ∂E/∂W^l = −δ^l (y^l)ᵀ
    np.testing.assert_allclose(net.weight_grads[1], -np.outer(delta1, net.forward(x).ys[1][0]),
                               atol=1e-14)
    np.testing.assert_allclose(net.weight_grads[0], -np.outer(delta0, X), atol=1e-14)


def test_float32_step_agrees_with_the_hand_update_to_float32_precision():
    _, _, _, new_w0, new_w1 = hand_update()
    net, loss = tiny_network(np.float32), get_loss("mse")
    net.loss_and_gradients(np.array([X], dtype=np.float32),
                           net.targets(np.array([0]), loss), loss)
    SGD(lr=ETA).step(net.params, net.grads)
    np.testing.assert_allclose(net.weights[0], new_w0, atol=1e-6)
    np.testing.assert_allclose(net.weights[1], new_w1, atol=1e-6)


# ------------------------------------------------------------------ optimizers
def gradients(seed, size, steps):
    rng = np.random.default_rng(seed)
    return [rng.normal(0, 1, size) for _ in range(steps)]


@pytest.mark.parametrize("momentum,nesterov,weight_decay", [
    (0.0, False, 0.0), (0.0, False, 0.01), (0.9, False, 0.0), (0.9, True, 0.0), (0.5, True, 0.1),
])
def test_sgd_matches_textbook_formulas(momentum, nesterov, weight_decay):
    lr, size = 0.05, 7
    theta0 = np.random.default_rng(1).normal(0, 1, size)
    grads = gradients(2, size, 5)

    # reference, PyTorch's convention: g ← g + λθ; v ← μv + g; θ ← θ − η(g + μv) or θ − ηv
    theta, v = theta0.copy(), np.zeros(size)
    expected = []
    for g in grads:
        g = g + weight_decay * theta
        if momentum:
            v = momentum * v + g
            direction = g + momentum * v if nesterov else v
        else:
            direction = g
        theta = theta - lr * direction
        expected.append(theta.copy())

    params = theta0.copy()
    optimizer = SGD(lr, momentum=momentum, nesterov=nesterov, weight_decay=weight_decay)
    for g, want in zip(grads, expected, strict=True):
        optimizer.step(params, g.copy())
        np.testing.assert_allclose(params, want, rtol=1e-13, atol=1e-15)


def test_sgd_explicit_numbers_with_momentum():
    # θ = 1, g = 0.5 then 0.5, η = 0.1, μ = 0.9:
    # step 1: v = 0.5,              θ = 1 − 0.05 = 0.95
    # step 2: v = 0.45 + 0.5 = 0.95, θ = 0.95 − 0.095 = 0.855
    params = np.array([1.0])
    optimizer = SGD(0.1, momentum=0.9)
    optimizer.step(params, np.array([0.5]))
    assert params[0] == pytest.approx(0.95, abs=1e-15)
    optimizer.step(params, np.array([0.5]))
    assert params[0] == pytest.approx(0.855, abs=1e-15)
    assert optimizer.velocity[0] == pytest.approx(0.95, abs=1e-15)


@pytest.mark.parametrize("size", [5, CHUNK, 2 * CHUNK + 1234])
@pytest.mark.parametrize("weight_decay", [0.0, 0.01])
def test_adam_matches_textbook_formula(size, weight_decay):
    lr, b1, b2, eps = 0.01, 0.9, 0.999, 1e-8
    theta0 = np.random.default_rng(3).normal(0, 1, size)
    grads = gradients(4, size, 4)

    theta, m, v = theta0.copy(), np.zeros(size), np.zeros(size)
    expected = []
    for t, g in enumerate(grads, start=1):
        g = g + weight_decay * theta
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        m_hat, v_hat = m / (1 - b1**t), v / (1 - b2**t)
        theta = theta - lr * m_hat / (np.sqrt(v_hat) + eps)
        expected.append((theta.copy(), m.copy(), v.copy()))

    params = theta0.copy()
    optimizer = Adam(lr, beta1=b1, beta2=b2, eps=eps, weight_decay=weight_decay)
    for g, (want, want_m, want_v) in zip(grads, expected, strict=True):
        g_before = g.copy()
        optimizer.step(params, g)
        np.testing.assert_array_equal(g, g_before)  # the caller's gradient is left alone
        np.testing.assert_allclose(params, want, rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(optimizer.m, want_m, rtol=1e-12, atol=1e-15)
        np.testing.assert_allclose(optimizer.v, want_v, rtol=1e-12, atol=1e-18)
    assert optimizer.t == len(grads)


def test_adam_float32_long_vector_matches_float64_reference():
    size = 3 * CHUNK + 17
    theta0 = np.random.default_rng(5).normal(0, 1, size)
    grads = gradients(6, size, 3)
    ref = Adam(0.001, weight_decay=0.001)
    params64 = theta0.copy()
    params32 = theta0.astype(np.float32)
    fast = Adam(0.001, weight_decay=0.001)
    for g in grads:
        ref.step(params64, g.copy())
        fast.step(params32, g.astype(np.float32))
    assert params32.dtype == np.float32 and fast.m.dtype == np.float32
    np.testing.assert_allclose(params32, params64, atol=1e-6)


def test_adam_first_step_moves_every_parameter_by_lr():
    # With m̂ = g and v̂ = g² on step 1, the update is η g / (|g| + ε) ≈ η sign(g).
    g = np.array([3.0, -0.2, 1e-3, -50.0])
    params = np.zeros(4)
    Adam(0.01).step(params, g)
    np.testing.assert_allclose(params, -0.01 * np.sign(g), rtol=1e-4)


def test_step_constants_are_python_floats_so_float32_updates_stay_float32():
    # A NumPy float64 scalar (e.g. from np.sqrt) would make every float32 update run in float64
    # and be cast back: the same numbers, ten times slower.
    params = np.zeros(10, dtype=np.float32)
    sgd, adam = SGD(0.1), Adam(0.01)
    sgd.begin_step(params, np.float64(0.05))
    adam.begin_step(params, np.float64(0.005))
    assert type(sgd.step_lr) is float
    assert type(adam.step_size) is float and type(adam.step_eps) is float


def test_optimizer_state_round_trip_continues_identically():
    size = CHUNK + 100
    grads = gradients(7, size, 4)
    for make in (lambda: SGD(0.1, momentum=0.9, nesterov=True), lambda: Adam(0.01)):
        a, params_a = make(), np.ones(size)
        for g in grads:
            a.step(params_a, g.copy())
        b, params_b = make(), np.ones(size)
        for g in grads[:2]:
            b.step(params_b, g.copy())
        c = make()
        c.load_state_dict(b.state_dict(), params_b)
        for g in grads[2:]:
            c.step(params_b, g.copy())
        np.testing.assert_array_equal(params_a, params_b)
