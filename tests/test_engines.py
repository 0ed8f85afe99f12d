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


# ------------------------------------------------------------------ the choice, in one place
def compiled_available() -> bool:
    from digitlab.nn import compiled

    return compiled.load() is not None


@pytest.mark.parametrize("name, changes, kernels, loop, reason", [
    ("assignment", {}, "numba", True, "batch size 1, plain SGD → compiled per-sample SGD loop"),
    ("report", {}, "numba", False, "batch size 32, adam → compiled minibatch steps"),
    ("report", {"dropout": [0.2]}, "numba", False,
     "batch size 32, adam, dropout → compiled minibatch steps"),
    ("assignment", {"dropout": [0.2]}, "numpy", False,
     "dropout is not in the compiled per-sample loop → NumPy kernels"),
    ("assignment", {"augment_rotation": 10.0, "max_norm": 3.0}, "numpy", False,
     "augment_rotation, max_norm are not in the compiled per-sample loop → NumPy kernels"),
    ("assignment", {"engine": "reference"}, None, False, "engine = reference (config)"),
    ("report", {"engine": "reference"}, None, False, "engine = reference (config)"),
], ids=["assignment", "report", "report-dropout", "per-sample-dropout",
        "per-sample-rotation-max-norm", "reference-assignment", "reference-report"])
def test_for_config_chooses_the_engine_and_says_why(name, changes, kernels, loop, reason):
    from digitlab.nn.engines import EngineChoice, for_config

    if kernels == "numba" and not compiled_available():
        pytest.skip("Numba is not installed")
    config = preset(name).replace(**changes)
    choice = for_config(config)
    assert isinstance(choice, EngineChoice)
    assert (choice.kernels, choice.per_sample_loop, choice.reason) == (kernels, loop, reason)
    assert choice.engine.name == config.engine
    assert choice.engine.trains_samples == loop
    assert choice.per_sample == (config.batch_size == 1)
    assert choice.threads >= 1 and reason in str(choice) and "\n" not in str(choice)
    if kernels is not None:
        assert isinstance(choice.engine, FusedEngine) and choice.engine.kernels_name == kernels
    else:
        assert isinstance(choice.engine, ReferenceEngine) and choice.threads == 1


def test_for_config_takes_the_optimizer_it_is_given():
    from digitlab.nn.engines import for_config

    config = preset("assignment")
    choice = for_config(config, optimizer=SGD(0.01, momentum=0.9))
    assert not choice.per_sample and not choice.per_sample_loop
    assert "per-sample" not in choice.reason


def test_without_numba_for_config_chooses_the_numpy_kernels(monkeypatch):
    from digitlab.nn import compiled
    from digitlab.nn.engines import for_config

    monkeypatch.setattr(compiled, "load", lambda: None)
    monkeypatch.setattr(compiled, "unavailable_reason", "Numba cannot be imported (test)")
    for name, steps in (("assignment", "per-sample steps"), ("report", "minibatch steps")):
        choice = for_config(preset(name))
        assert choice.kernels == "numpy" and not choice.per_sample_loop
        assert choice.reason == "Numba cannot be imported (test) → NumPy kernels"
        assert f"on numpy kernels, {steps}" in str(choice)


def test_each_backend_declares_what_it_implements():
    from digitlab.nn.compiled import support
    from digitlab.nn.engines import ReferenceEngine

    config = preset("report").replace(dropout=[0.3], batch_size=1, optimizer="sgd")
    assert ReferenceEngine.supports(config, per_sample=True) is None
    assert NumpyKernels.supports(config, per_sample=True) is None
    assert support.supports(config, per_sample=False) is None
    assert support.supports(config, per_sample=True) == \
        "dropout is not in the compiled per-sample loop"
    assert NumpyKernels.dropout and not NumpyKernels.per_sample_loop
    assert not ReferenceEngine.trains_samples
    with pytest.raises(NotImplementedError):
        NumpyKernels.sgd_samples(None, None, None, None, None, None, 1)


def test_explain_engine_prints_the_choice_in_one_line_and_trains_nothing(
        tmp_path, capsys, monkeypatch):
    from cli_runner import run_cli

    monkeypatch.chdir(tmp_path)
    code, out, _ = run_cli(["train", "--preset", "report", "--engine", "reference",
                            "--explain-engine"], capsys)
    assert code == 0
    assert out == "engine: reference engine, 1 thread (engine = reference (config))\n"
    code, out, _ = run_cli(["train", "--dropout", "0.2", "--out", tmp_path / "run",
                            "--explain-engine"], capsys)
    assert code == 0 and out.count("\n") == 1
    assert out.startswith("engine: fused engine on numpy kernels, per-sample steps, 1 thread (")
    assert "dropout is not in the compiled per-sample loop" in out
    assert list(tmp_path.iterdir()) == []  # no run folder, nothing trained
    code, out, _ = run_cli(["train", "--engine", "reference", "--hidden", "8", "--epochs", "1",
                            "--max-train-samples", "20", "--out", tmp_path / "run"], capsys)
    assert code == 0  # training names its engine under the run's description
    assert "\nengine: reference engine, 1 thread (engine = reference (config))\n" in out


# ------------------------------------------------------------------ declared, not probed
def test_optimizers_expose_their_update_constants_read_only():
    params = np.zeros(4)
    sgd = SGD(0.1, momentum=0.9, nesterov=True, weight_decay=0.01)
    sgd.begin_step(params, 0.05)
    assert (sgd.lr, sgd.momentum, sgd.nesterov, sgd.weight_decay, sgd.step_lr) == \
        (0.1, 0.9, True, 0.01, 0.05)
    adam = Adam(0.001, beta1=0.8, beta2=0.99, eps=1e-7)
    adam.begin_step(params)
    k = np.sqrt((1 - 0.99) / (1 - 0.99))
    assert (adam.lr, adam.beta1, adam.beta2, adam.eps) == (0.001, 0.8, 0.99, 1e-7)
    assert adam.step_size == pytest.approx(0.001 * 0.2 / (0.2 * k))  # η′ at t = 1
    assert adam.step_eps == pytest.approx(1e-7 / k)
    for optimizer, name in ((sgd, "momentum"), (sgd, "step_lr"), (adam, "step_size"),
                            (adam, "lr"), (adam, "eps")):
        with pytest.raises(AttributeError):
            setattr(optimizer, name, 1.0)


def _engine_wing_sources():
    import ast
    from pathlib import Path

    import digitlab

    nn = Path(digitlab.__file__).parent / "nn"
    for path in sorted(nn.rglob("*.py")):
        yield path, ast.parse(path.read_text(encoding="utf-8"))


def test_no_module_in_nn_reads_an_optimizers_private_attributes():
    """The optimizers' state of a step is theirs: other modules read the public properties."""
    import ast

    private = set()
    for path, tree in _engine_wing_sources():
        if path.name == "optimizers.py":
            private = {node.attr for node in ast.walk(tree) if isinstance(node, ast.Attribute)
                       and node.attr.startswith("_") and not node.attr.startswith("__")
                       and isinstance(node.value, ast.Name) and node.value.id == "self"}
    assert {"_step_lr", "_step_size", "_step_eps"} <= private
    reads = []
    for path, tree in _engine_wing_sources():
        if path.name == "optimizers.py":
            continue
        reads += [f"{path.name}:{node.lineno} .{node.attr}" for node in ast.walk(tree)
                  if isinstance(node, ast.Attribute) and node.attr in private
                  and not (isinstance(node.value, ast.Name) and node.value.id == "self")]
    assert reads == []


def test_the_engine_wing_probes_nothing():
    """What an engine or a backend offers is declared (protocols, flags), never probed."""
    import ast

    wing = {"engines.py", "fused.py", "kernels.py", "support.py"}
    probes = []
    for path, tree in _engine_wing_sources():
        if path.name not in wing:
            continue
        probes += [f"{path.name}:{node.lineno}" for node in ast.walk(tree)
                   if isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
                   and (node.func.id == "hasattr"
                        or (node.func.id == "getattr" and len(node.args) == 3))]
    assert probes == []
