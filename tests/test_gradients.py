"""Central-difference gradient checks in float64 for every activation × loss × bias on/off,
for the weights and for the input gradient (the building block of deep dream)."""

import itertools

import numpy as np
import pytest

from digitlab.nn import MLP, fused, get_loss

HIDDEN = ["tanh", "sigmoid", "relu", "swish", "linear"]
# (output activation, loss) pairs the engine accepts; ce needs a softmax output.
OUTPUTS = [
    ("tanh", "mse"), ("sigmoid", "mse"), ("linear", "mse"), ("softmax", "mse"),
    ("swish", "mse"), ("relu", "mse"), ("softmax", "ce"),
]
EPS = 1e-6


def small_problem(hidden, output, bias, seed=0):
    rng = np.random.default_rng(seed)
    net = MLP([5, 4, 3, 3], [hidden, hidden, output], bias=bias, dtype=np.float64, init="glorot",
              rng=rng)
    if bias:  # non-zero biases so their gradient is really exercised
        for b in net.biases:
            b[...] = rng.normal(0, 0.3, b.shape)
    x = rng.uniform(0, 1, (6, 5))
    # keep relu pre-activations away from the kink at 0, where f′ is not defined
    return net, x, np.array([0, 1, 2, 1, 0, 2])


def relative_error(a, b):
    """‖a − b‖ / (‖a‖ + ‖b‖): insensitive to components that are ~0 in both."""
    return np.linalg.norm(a - b) / max(np.linalg.norm(a) + np.linalg.norm(b), 1e-12)


def mean_loss(net, x, t, loss):
    return loss.per_sample(net.predict(x), t).mean()


@pytest.mark.parametrize(
    "hidden,output_loss,bias", list(itertools.product(HIDDEN, OUTPUTS, [False, True]))
)
def test_weight_and_input_gradients_match_central_differences(hidden, output_loss, bias):
    output, loss_name = output_loss
    net, x, labels = small_problem(hidden, output, bias)
    loss = get_loss(loss_name)
    t = net.targets(labels, loss)

    net.loss_and_gradients(x, t, loss)
    analytic = net.grads.copy()
    numeric = np.zeros_like(analytic)
    for i in range(net.params.size):
        saved = net.params[i]
        net.params[i] = saved + EPS
        plus = mean_loss(net, x, t, loss)
        net.params[i] = saved - EPS
        minus = mean_loss(net, x, t, loss)
        net.params[i] = saved
        numeric[i] = (plus - minus) / (2 * EPS)
    assert relative_error(analytic, numeric) < 1e-6

    grad_x, per_sample, _ = net.input_gradient(x, t, loss)
    numeric_x = np.zeros_like(x)
    for b, j in itertools.product(range(x.shape[0]), range(x.shape[1])):
        xp, xm = x.copy(), x.copy()
        xp[b, j] += EPS
        xm[b, j] -= EPS
        # each sample's own E_b: the input gradient is per sample, not averaged
        e_plus = loss.per_sample(net.predict(xp), t)[b]
        e_minus = loss.per_sample(net.predict(xm), t)[b]
        numeric_x[b, j] = (e_plus - e_minus) / (2 * EPS)
    assert relative_error(grad_x, numeric_x) < 1e-6
    np.testing.assert_allclose(per_sample, loss.per_sample(net.predict(x), t))


def test_gradient_check_detects_a_wrong_derivative(monkeypatch):
    """The check above can fail: break tanh′ and the weight gradient no longer matches."""
    from digitlab.nn import activations

    monkeypatch.setattr(activations.Tanh, "derivative", lambda self, z, y: 1.0 - y)
    net, x, labels = small_problem("tanh", "tanh", False)
    loss = get_loss("mse")
    t = net.targets(labels, loss)
    net.loss_and_gradients(x, t, loss)
    analytic = net.grads.copy()
    i = 0
    saved = net.params[i]
    net.params[i] = saved + EPS
    plus = mean_loss(net, x, t, loss)
    net.params[i] = saved - EPS
    minus = mean_loss(net, x, t, loss)
    net.params[i] = saved
    assert abs(analytic[i] - (plus - minus) / (2 * EPS)) > 1e-4


@pytest.mark.parametrize("batch", [1, 5])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("bias", [False, True])
def test_fused_sgd_step_equals_backward_then_sgd(batch, dtype, bias):
    """fused.sgd_step (in-place BLAS update) gives the weights of backward + SGD.step."""
    from digitlab.nn import SGD

    rng = np.random.default_rng(1)
    net = MLP([7, 6, 4], ["tanh", "tanh"], bias=bias, dtype=dtype, rng=rng)
    x = rng.uniform(0, 1, (batch, 7)).astype(dtype)
    loss = get_loss("mse")
    t = net.targets(rng.integers(0, 4, batch), loss)
    reference = net.copy()
    reference.backward(reference.forward(x), t, loss)
    SGD(0.1).step(reference.params, reference.grads)
    before = net.params.copy()
    fused.sgd_step(net, net.forward(x), t, loss, 0.1)
    assert not np.array_equal(net.params, before)
    tol = 1e-6 if dtype == np.float32 else 1e-13
    np.testing.assert_allclose(net.params, reference.params, rtol=tol, atol=tol)


@pytest.mark.parametrize("optimizer_name", ["sgd", "momentum", "adam"])
@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("bias", [False, True])
def test_backward_update_equals_backward_then_step(optimizer_name, threads, bias, monkeypatch):
    """fused.backward_update (gradient rows handed to the optimizer block by block, on one or two
    threads) gives the weights of backward + optimizer.step."""
    from digitlab.nn import make_optimizer

    def optimizer():
        if optimizer_name == "momentum":
            return make_optimizer("sgd", 0.05, momentum=0.9, nesterov=True, weight_decay=0.01)
        return make_optimizer(optimizer_name, 0.05 if optimizer_name == "sgd" else 0.01)

    monkeypatch.setattr(fused, "ROW_BLOCK", 3)  # several blocks per layer, split across threads
    rng = np.random.default_rng(2)
    net = MLP([9, 13, 7, 4], ["swish", "tanh", "softmax"], bias=bias, dtype=np.float64, rng=rng)
    loss = get_loss("ce")
    reference, fast = net.copy(), net.copy()
    ref_opt, fused_opt = optimizer(), optimizer()
    for _ in range(3):
        x = rng.uniform(0, 1, (6, 9))
        t = net.targets(rng.integers(0, 4, 6), loss)
        reference.backward(reference.forward(x), t, loss)
        ref_opt.step(reference.params, reference.grads)
        fused.backward_update(fast, fused.forward(fast, x, threads), t, loss, fused_opt, None,
                              threads)
    assert not np.array_equal(fast.params, net.params)
    np.testing.assert_allclose(fast.params, reference.params, rtol=1e-12, atol=1e-14)


def test_backward_update_does_not_depend_on_the_thread_count(monkeypatch):
    """Equation (1)'s δ W is summed in block order, whichever core computed each block, so one
    and two threads give bit-identical float32 weights."""
    from digitlab.nn import make_optimizer

    monkeypatch.setattr(fused, "ROW_BLOCK", 4)
    rng = np.random.default_rng(3)
    net = MLP([30, 40, 24, 5], ["swish", "relu", "softmax"], bias=True, dtype=np.float32, rng=rng)
    loss = get_loss("ce")
    results = []
    for threads in (1, 2):
        copy, optimizer = net.copy(), make_optimizer("adam", 0.01)
        for step in range(4):
            batch = np.random.default_rng(step)
            x = batch.uniform(0, 1, (8, 30)).astype(np.float32)
            t = copy.targets(batch.integers(0, 5, 8), loss)
            fused.backward_update(copy, fused.forward(copy, x, threads), t, loss, optimizer,
                                  None, threads)
        results.append(copy.params)
    assert not np.array_equal(results[0], net.params)
    np.testing.assert_array_equal(results[0], results[1])
