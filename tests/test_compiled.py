"""The compiled kernels (Numba) against the equations: per-sample SGD and the optimizers' updates
give the weights of the plain forward / backward / optimizer step, in float64, over several
steps; the thread count does not change them; without Numba training falls back to NumPy.

Every test here uses float64, so that the kernels compile once per signature (and are then read
from the disk cache)."""

import logging
import sys
import time

import numpy as np
import pytest

from digitlab.nn import MLP, SGD, Adam, compiled, get_loss

kernels = compiled.load()
needs_numba = pytest.mark.skipif(kernels is None, reason="Numba is not installed")

# (sizes, activations, loss, bias): 1–3 hidden layers, every activation and both losses
NETWORKS = [
    ([784, 10], ["softmax"], "ce", True),  # no hidden layer: the first layer is the output
    ([784, 24, 10], ["tanh", "tanh"], "mse", False),  # the assignment's kind
    ([784, 32, 20, 10], ["swish", "swish", "softmax"], "ce", True),  # the report's kind
    ([784, 30, 20, 16, 10], ["relu", "sigmoid", "linear", "softmax"], "mse", True),
]


def problem(sizes, activations, loss_name, bias, n=40, seed=0):
    rng = np.random.default_rng(seed)
    net = MLP(sizes, activations, bias=bias, dtype=np.float64, rng=rng)
    images = rng.uniform(0, 1, (n, sizes[0])) * (rng.uniform(0, 1, (n, sizes[0])) < 0.5)
    targets = net.targets(rng.integers(0, sizes[-1], n), get_loss(loss_name))
    return net, images, targets


def reference_per_sample(net, images, targets, loss_name, order, rates):
    """Equations (1)–(2) one sample at a time: forward, backward, θ ← θ − η ∂E/∂θ."""
    loss = get_loss(loss_name)
    losses = []
    for i, rate in zip(order, rates, strict=True):
        fp = net.forward(images[i : i + 1])
        losses.append(float(loss.per_sample(fp.output, targets[i : i + 1])[0]))
        net.backward(fp, targets[i : i + 1], loss)
        SGD(rate).step(net.params, net.grads)
    return np.array(losses)


@needs_numba
@pytest.mark.parametrize("block", [1, 4, kernels.BLOCK if kernels else 64])
@pytest.mark.parametrize("sizes, activations, loss_name, bias", NETWORKS)
def test_per_sample_sgd_equals_the_equations(sizes, activations, loss_name, bias, block):
    # blocks of 1 and 4 samples: the first layer's updates cross block boundaries; the default
    # block holds all 25 samples, so W⁰ sees only the in-block corrections
    net, images, targets = problem(sizes, activations, loss_name, bias)
    compiled_net = net.copy()
    order = np.random.default_rng(1).permutation(len(images))[:25]
    rates = np.linspace(0.05, 0.01, len(order))  # a different η per sample, as a schedule gives
    expected = reference_per_sample(net, images, targets, loss_name, order, rates)

    engine = kernels.PerSampleSGD(compiled_net, loss_name, threads=1, block=block)
    done, losses, predicted = engine.run(images, targets, order[:10], rates[:10])
    done2, losses2, predicted2 = engine.run(images, targets, order[10:], rates[10:])

    assert (done, done2) == (10, 15)
    np.testing.assert_allclose(np.concatenate([losses, losses2]), expected, rtol=1e-12)
    np.testing.assert_allclose(compiled_net.params, net.params, rtol=1e-10, atol=1e-13)
    assert not np.array_equal(compiled_net.params, problem(sizes, activations, loss_name,
                                                           bias)[0].params)


@needs_numba
def test_per_sample_sgd_gives_the_same_weights_on_one_or_two_threads():
    # layers big enough to be split over threads: rows of W⁰ and W¹, columns of δ¹W¹
    net, images, targets = problem([784, 128, 600, 10], ["tanh", "swish", "softmax"], "ce", True)
    order, rates = np.arange(12), np.full(12, 0.02)
    results = []
    for threads in (1, 2):
        copy = net.copy()
        kernels.PerSampleSGD(copy, "ce", threads=2).run(images, targets, order, rates,
                                                         threads=threads)
        results.append(copy.params)
    np.testing.assert_array_equal(results[0], results[1])
    assert not np.array_equal(results[0], net.params)


@needs_numba
@pytest.mark.parametrize("block", [3, 64])  # the NaN sample inside the second block, the first
def test_per_sample_sgd_stops_before_a_sample_whose_loss_is_nan(block):
    net, images, targets = problem(*NETWORKS[1])
    images[7, 100] = np.nan  # the sixth sample visited below
    order, rates = np.arange(2, 12), np.full(10, 0.05)
    expected = net.copy()
    reference_per_sample(expected, images, targets, "mse", order[:5], rates[:5])

    done, losses, _ = kernels.PerSampleSGD(net, "mse", block=block).run(images, targets, order,
                                                                         rates)
    assert done == 5 and len(losses) == 6 and np.isnan(losses[5])  # the one that stopped it
    np.testing.assert_allclose(net.params, expected.params, rtol=1e-10, atol=1e-13)


@needs_numba
@pytest.mark.parametrize("make", [
    lambda: Adam(0.01, weight_decay=0.01),
    lambda: SGD(0.05, momentum=0.9),
    lambda: SGD(0.05, momentum=0.8, nesterov=True, weight_decay=0.1),
], ids=["adam", "momentum", "nesterov"])
def test_compiled_optimizer_updates_equal_the_optimizers(make):
    loss = get_loss("ce")
    net, images, targets = problem([784, 40, 30, 10], ["swish", "relu", "softmax"], "ce", True)
    compiled_net, plain, fast = net.copy(), make(), kernels.CompiledUpdate(make())
    for step in range(3):
        x, t = images[step * 8 : (step + 1) * 8], targets[step * 8 : (step + 1) * 8]
        net.backward(net.forward(x), t, loss)
        plain.step(net.params, net.grads, 0.01)
        fp = compiled_net.forward(x)
        compiled_net.backward(fp, t, loss)
        fast.begin_step(compiled_net.params, 0.01)
        for lo in range(0, compiled_net.params.size, 1000):  # in pieces, as the fused engine
            fast.update(compiled_net.params, compiled_net.grads[lo : lo + 1000], lo)
    np.testing.assert_allclose(compiled_net.params, net.params, rtol=1e-10, atol=1e-13)
    for name, value in plain.state_dict().items():
        np.testing.assert_allclose(fast.optimizer.state_dict()[name], value, rtol=1e-10)


@needs_numba
def test_the_float32_tanh_is_within_float32_rounding():
    from digitlab.nn.compiled.pointwise_kernels import tanh_float32

    x = np.concatenate([np.linspace(-12, 12, 2001), np.geomspace(1e-9, 1, 200)])
    got = np.array([tanh_float32(v) for v in x])
    np.testing.assert_allclose(got, np.tanh(x), rtol=4e-8, atol=0)
    assert np.isnan(tanh_float32(np.nan))


def test_without_numba_load_says_so_in_one_line_and_returns_none(monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "numba", None)  # makes "import numba" fail
    monkeypatch.setattr(compiled, "_tried", False)
    monkeypatch.setattr(compiled, "_kernels", None)
    assert compiled.load() is None
    message = capsys.readouterr().err.strip().splitlines()
    assert len(message) == 1 and "Numba cannot be imported" in message[0]
    assert "NumPy" in message[0]


def test_thread_chooser_follows_the_faster_count_and_retries_the_other_ever_less_often():
    from digitlab.nn.compiled.kernels import ThreadChooser

    chooser = ThreadChooser(2)
    speeds = {1: 1.0, 2: 3.0}  # one thread is faster here
    picks = []
    for _ in range(200):
        threads = chooser.pick()
        picks.append(threads)
        chooser.record(threads, speeds[threads])
    assert picks[:2] == [2, 1]  # both timed first
    tries = [i for i, threads in enumerate(picks) if threads == 2][1:]
    assert 3 <= len(tries) <= 8  # retried now and then, at growing intervals
    assert np.all(np.diff(tries) >= 4) and np.diff(tries)[-1] > np.diff(tries)[0]
    assert ThreadChooser(1).pick() == 1


# ------------------------------------------------------------------ in training
@pytest.fixture(scope="module")
def sample():
    from digitlab.data import load_dataset

    return load_dataset("mnist-sample")


def spy(monkeypatch, name):
    """Count the calls of NumbaKernels.<name>."""
    calls = []
    original = getattr(kernels.NumbaKernels, name)

    def counting(self, *args):
        calls.append(name)
        return original(self, *args)

    monkeypatch.setattr(kernels.NumbaKernels, name, counting)
    return calls


@needs_numba
@pytest.mark.parametrize("changes", [
    {"hidden": [32]},  # the assignment: tanh, ±1 targets
    {"hidden": [24, 16], "activation": "swish", "output_activation": "softmax", "loss": "ce",
     "bias": True, "schedule": "cosine"},
], ids=["tanh-mse", "swish-ce"])
def test_training_runs_the_compiled_per_sample_loop_and_equals_the_reference(
        sample, monkeypatch, changes):
    from digitlab.config import preset
    from digitlab.training import SAMPLES_PER_CALL, train

    config = preset("assignment").replace(dtype="float64", epochs=2, max_train_samples=150,
                                          trace_every=40, **changes)
    calls = spy(monkeypatch, "sgd_samples")
    fast = train(config, sample, progress=False)
    assert len(calls) == 2 * -(-150 // SAMPLES_PER_CALL)
    slow = train(config.replace(engine="reference"), sample, progress=False)
    np.testing.assert_allclose(fast.network.params, slow.network.params, rtol=1e-9, atol=1e-12)
    for a, b in zip(fast.history.trace, slow.history.trace, strict=True):
        assert a["loss"] == pytest.approx(b["loss"], rel=1e-9)
        assert a["accuracy"] == b["accuracy"]


@needs_numba
def test_compiled_per_sample_training_stops_on_ctrl_c_and_resumes_bit_identically(
        tmp_path, sample, monkeypatch):
    import digitlab.training as train_module
    from digitlab.config import preset

    config = preset("assignment").replace(hidden=[32], epochs=2, max_train_samples=300)
    straight = train_module.train(config, sample, progress=False)
    after_one = train_module.train(config.replace(epochs=1), sample, progress=False)
    calls, rate = [], train_module.learning_rate

    def ctrl_c_in_epoch_2(*args, **kwargs):
        calls.append(1)
        if len(calls) == 300 + 200:
            raise KeyboardInterrupt
        return rate(*args, **kwargs)

    with monkeypatch.context() as patch:
        patch.setattr(train_module, "learning_rate", ctrl_c_in_epoch_2)
        stopped = train_module.train(config, sample, run_dir=tmp_path, progress=False)
    assert stopped.status == "interrupted" and len(stopped.history.epochs) == 1
    np.testing.assert_array_equal(stopped.network.params, after_one.network.params)
    resumed = train_module.train(config, sample, run_dir=tmp_path, resume=True, progress=False)
    np.testing.assert_array_equal(resumed.network.params, straight.network.params)
    assert resumed.history.trace == straight.history.trace


@needs_numba
def test_minibatch_training_uses_the_compiled_update(sample, monkeypatch):
    from digitlab.config import preset
    from digitlab.training import train

    config = preset("report").replace(hidden=[48, 24], batch_size=8, epochs=1,
                                      max_train_samples=64, dtype="float64")
    calls = spy(monkeypatch, "backward_update")
    fast = train(config, sample, progress=False)
    assert len(calls) == 8
    slow = train(config.replace(engine="reference"), sample, progress=False)
    np.testing.assert_allclose(fast.network.params, slow.network.params, rtol=1e-9, atol=1e-12)


@needs_numba
def test_a_config_the_compiled_kernels_do_not_implement_runs_on_numpy(sample, monkeypatch):
    import digitlab.training as train_module
    from digitlab.config import preset
    from digitlab.nn.compiled import support

    # as if weight decay were a feature added after the compiled kernels
    monkeypatch.setattr(support, "COMPILED_FIELDS", support.COMPILED_FIELDS - {"weight_decay"})
    config = preset("report").replace(hidden=[16], batch_size=8, epochs=1, max_train_samples=32)
    assert support.supports(config, per_sample=False) is None
    assert support.supports(config.replace(weight_decay=0.01), per_sample=False) == \
        "weight_decay is not in the compiled kernels"
    calls = spy(monkeypatch, "backward_update")
    train_module.train(config.replace(weight_decay=0.01), sample, progress=False)
    assert calls == []
    train_module.train(config, sample, progress=False)
    assert len(calls) == 4


def test_without_numba_training_falls_back_to_numpy_and_says_so(sample, monkeypatch, capsys):
    from digitlab.config import preset
    from digitlab.nn import fused
    from digitlab.training import train

    monkeypatch.setitem(sys.modules, "numba", None)
    monkeypatch.setattr(compiled, "_tried", False)
    monkeypatch.setattr(compiled, "_kernels", None)
    monkeypatch.delitem(fused.KERNELS, "numba", raising=False)
    config = preset("assignment").replace(hidden=[16], epochs=1, max_train_samples=50,
                                          dtype="float64")
    fallback = train(config, sample, progress=False)
    train(config, sample, progress=False)
    assert "numba" not in fused.KERNELS
    lines = [line for line in capsys.readouterr().err.splitlines() if "Numba" in line]
    assert len(lines) == 1  # said once, not per run
    reference = train(config.replace(engine="reference"), sample, progress=False)
    np.testing.assert_allclose(fallback.network.params, reference.network.params, rtol=1e-9,
                               atol=1e-12)


def minibatch_optimizers():
    return {
        "sgd": lambda: SGD(0.05),
        "nesterov with weight decay": lambda: SGD(0.05, momentum=0.9, nesterov=True,
                                                  weight_decay=0.01),
        "adam with weight decay": lambda: Adam(0.01, weight_decay=0.001),
    }


def compare_minibatch_steps(network, make_optimizer, dropout=0.0):
    """Three steps of 8 samples through CompiledMinibatch and through the plain forward /
    backward / optimizer step (dropout masks drawn once and given to both), in float64: the
    outputs and the weights agree, and the weights moved."""
    from digitlab.nn.dropout import draw_masks

    sizes, activations, loss_name, bias = network
    net, images, targets = problem(sizes, activations, loss_name, bias)
    loss, rng = get_loss(loss_name), np.random.default_rng(5)
    reference, fast = net.copy(), net.copy()
    reference_optimizer, fast_optimizer = make_optimizer(), make_optimizer()
    step = kernels.CompiledMinibatch()
    for lo in range(0, 24, 8):
        x, t = images[lo : lo + 8], targets[lo : lo + 8]
        masks = draw_masks([dropout] * (len(sizes) - 2), sizes, 8, rng, np.dtype(np.float64))
        expected, fp = reference.forward(x, masks), step.forward(fast, x, 2, masks)
        np.testing.assert_allclose(fp.output, expected.output, rtol=1e-12, atol=1e-14)
        reference.backward(expected, t, loss)
        reference_optimizer.step(reference.params, reference.grads)
        step.backward_update(fast, fp, t, loss, fast_optimizer, None, 2)
    assert not np.array_equal(fast.params, net.params)
    np.testing.assert_allclose(fast.params, reference.params, rtol=1e-10, atol=1e-12)


@needs_numba
@pytest.mark.parametrize("name", list(minibatch_optimizers()))
@pytest.mark.parametrize("network", NETWORKS, ids=lambda n: "-".join(map(str, n[0])))
def test_compiled_minibatch_steps_equal_backward_then_step(network, name, monkeypatch):
    """CompiledMinibatch (each layer one compiled call: the forward pieces, then per block of
    rows the share of δW, the gradient rows and their update) gives the weights of the plain
    forward / backward / optimizer step, in float64, over several steps."""
    from digitlab.nn import fused

    # several blocks a layer, the last one short, and a forward pass in pieces
    monkeypatch.setattr(fused, "ROW_BLOCK", 7)
    monkeypatch.setattr(kernels, "FORWARD_SPLIT_UNITS", 8)
    compare_minibatch_steps(network, minibatch_optimizers()[name])


@needs_numba
@pytest.mark.parametrize("network", NETWORKS[1:], ids=lambda n: "-".join(map(str, n[0])))
def test_compiled_minibatch_steps_with_dropout_equal_backward_then_step(network, monkeypatch):
    """The same with dropout: y = f(z) ⊙ m forward, (δW ⊙ m) ⊙ f′(z) backward, the masks
    fixed and shared by both paths."""
    from digitlab.nn import fused

    monkeypatch.setattr(fused, "ROW_BLOCK", 7)
    compare_minibatch_steps(network, lambda: Adam(0.01), dropout=0.3)


@needs_numba
def test_dropout_and_distortions_train_on_the_compiled_minibatch_steps_not_per_sample(
        sample, monkeypatch):
    """Minibatch training with dropout and distorted digits runs on the compiled kernels and
    gives the reference engine's weights; per-sample SGD with dropout stays on NumPy's (the
    compiled per-sample loop has no dropout)."""
    from digitlab.config import preset
    from digitlab.training import train

    config = preset("report").replace(hidden=[24, 16], batch_size=8, epochs=1, dropout=[0.2],
                                      augment_rotation=10.0, max_train_samples=64,
                                      dtype="float64")
    calls = spy(monkeypatch, "backward_update")
    fast = train(config, sample, progress=False)
    assert len(calls) == 8
    slow = train(config.replace(engine="reference"), sample, progress=False)
    np.testing.assert_allclose(fast.network.params, slow.network.params, rtol=1e-9, atol=1e-12)
    per_sample = preset("assignment").replace(hidden=[16], epochs=1, dropout=[0.2],
                                              max_train_samples=32, dtype="float64")
    samples = spy(monkeypatch, "sgd_samples")
    train(per_sample, sample, progress=False)
    assert samples == []


@needs_numba
def test_compiled_minibatch_steps_give_the_same_weights_on_one_or_two_threads(monkeypatch):
    from digitlab.nn import fused

    monkeypatch.setattr(fused, "ROW_BLOCK", 64)  # 600 rows: 10 blocks
    loss = get_loss("ce")
    net, images, targets = problem([784, 600, 40, 10], ["swish", "tanh", "softmax"], "ce", True)
    results = []
    for threads in (1, 2):
        copy, optimizer, numba_kernels = net.copy(), Adam(0.01), kernels.NumbaKernels()
        for step in range(2):
            x, t = images[step * 8 : (step + 1) * 8], targets[step * 8 : (step + 1) * 8]
            numba_kernels.backward_update(copy, numba_kernels.forward(copy, x, threads), t, loss,
                                          optimizer, 0.01, threads)
        results.append(copy.params)
    assert not np.array_equal(results[0], net.params)
    np.testing.assert_array_equal(results[0], results[1])


@needs_numba
@pytest.mark.parametrize("what", ["per-sample", "minibatch"])
def test_a_slow_first_compilation_is_announced_once_before_training(what, monkeypatch, caplog):
    def compile_kernels():
        if what == "per-sample":
            kernels.compile_per_sample(np.float64, True)
        else:
            kernels.compile_minibatch(np.float64)

    def notices():
        time.sleep(0.2)  # the notice comes from its own thread
        found = [r.getMessage() for r in caplog.records if r.name == kernels.log.name]
        caplog.clear()
        return found

    monkeypatch.setattr(kernels, "COMPILE_NOTICE_AFTER", 0.0)  # every compilation is "slow"
    monkeypatch.setattr(kernels, "_compiled_for", set())
    caplog.set_level(logging.INFO, logger=kernels.log.name)
    compile_kernels()
    first = notices()
    assert len(first) == 1 and f"compiling the {what} training kernels" in first[0]
    compile_kernels()  # ready: nothing to say
    assert notices() == []


def test_compiling_ahead_trains_each_kind_of_run_in_both_dtypes(monkeypatch):
    """``python -m digitlab.nn.compiled`` trains a tiny network of each kind in float32 and
    float64, so that every kernel they use is compiled (and cached) before the first real run."""
    import digitlab as dl
    from digitlab.nn.compiled import __main__ as ahead

    seen = []
    real_train = dl.train

    def train(**kwargs):
        seen.append((kwargs["preset"], kwargs["dtype"]))
        return real_train(**{**kwargs, "max_train_samples": 40})

    monkeypatch.setattr(dl, "train", train)
    assert ahead.compile_kernels() > 0
    assert seen == [(preset, dtype) for dtype in ("float32", "float64")
                    for preset, _ in ahead.RUNS]
    assert {"assignment", "best", "honest"} <= {preset for preset, _ in ahead.RUNS}
