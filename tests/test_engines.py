"""The reference engine (forward, backward, optimizer.step as written) and the fused engine
(the same maths reordered for the cache) train the same networks, so they cannot drift apart."""

import numpy as np
import pytest

from digitlab.config import preset
from digitlab.data import load_dataset
from digitlab.nn import ENGINES, FusedEngine, ReferenceEngine, make_engine
from digitlab.nn.fused import KERNELS, NumpyKernels, register_kernels
from digitlab.nn.optimizers import SGD, Adam
from digitlab.training import train


@pytest.fixture(scope="module")
def sample():
    return load_dataset("mnist-sample")


def trained(config, dataset):
    return train(config, dataset, progress=False)


@pytest.mark.parametrize("name,changes", [
    ("assignment", {"hidden": [32]}),  # per-sample SGD: fused.sgd_step
    ("report", {"hidden": [48, 24], "batch_size": 8}),  # Adam, bias: fused.backward_update
    ("assignment", {"hidden": [24], "momentum": 0.9, "batch_size": 4}),  # SGD momentum
])
def test_reference_and_fused_engines_train_the_same_float64_network(sample, name, changes):
    config = preset(name).replace(dtype="float64", epochs=2, max_train_samples=120,
                                  trace_every=40, **changes)
    fast = trained(config, sample)
    slow = trained(config.replace(engine="reference"), sample)
    assert not np.array_equal(fast.network.params, trained(config.replace(epochs=1),
                                                           sample).network.params)
    np.testing.assert_allclose(slow.network.params, fast.network.params, rtol=1e-10, atol=1e-12)
    for a, b in zip(slow.history.epochs, fast.history.epochs, strict=True):
        assert a["train_loss"] == pytest.approx(b["train_loss"], rel=1e-10)
        assert a["test_accuracy"] == b["test_accuracy"]


@pytest.mark.parametrize("name", ["assignment", "report"])
def test_the_reference_engine_trains_both_presets(sample, name):
    config = preset(name).replace(epochs=1, max_train_samples=64, trace_every=32,
                                  engine="reference")
    result = trained(config, sample)
    before = train(config.replace(epochs=1, max_train_samples=1), sample, progress=False)
    assert result.status == "completed"
    assert np.all(np.isfinite(result.network.params))
    assert not np.array_equal(result.network.params, before.network.params)
    assert result.history.final["train_loss"] > 0


def test_engine_is_chosen_by_name_and_fused_kernels_by_a_registry():
    sgd, adam = SGD(0.01), Adam(0.001)
    assert ENGINES == ("reference", "fused")
    assert isinstance(make_engine("reference", batch_size=1, optimizer=sgd), ReferenceEngine)
    per_sample = make_engine("fused", batch_size=1, optimizer=sgd)
    assert isinstance(per_sample, FusedEngine) and per_sample.per_sample_sgd
    assert not make_engine("fused", batch_size=1, optimizer=adam).per_sample_sgd
    assert not make_engine("fused", batch_size=2, optimizer=sgd).per_sample_sgd
    calls = []

    class Counting(NumpyKernels):
        @staticmethod
        def sgd_step(*args):
            calls.append("sgd_step")
            NumpyKernels.sgd_step(*args)

    register_kernels("counting", Counting())
    try:
        config = preset("assignment").replace(hidden=[8], epochs=1, max_train_samples=5)
        engine = FusedEngine(per_sample_sgd=True, kernels="counting")
        from digitlab.nn import MLP, get_loss

        net, loss = MLP(config.sizes, config.activations), get_loss("mse")
        x = np.zeros((1, 784), np.float32)
        engine.update(net, engine.forward(net, x), net.targets(np.array([3]), loss), loss, sgd,
                      0.01)
        assert calls == ["sgd_step"]
    finally:
        del KERNELS["counting"]


def test_engine_is_not_part_of_the_key_at_its_default():
    config = preset("assignment")
    assert "engine" not in config.to_key_dict() and config.to_dict()["engine"] == "fused"
    assert config.key() == config.replace(engine="fused").key()
    assert config.replace(engine="reference").key() != config.key()
