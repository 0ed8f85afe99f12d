"""ONNX export: the exported graph, run in onnxruntime, answers as digitlab does."""

import json
import types

import numpy as np
import onnx
import onnxruntime
import pytest

from cli_runner import run_cli
from digitlab import __version__
from digitlab.config import TrainConfig, preset
from digitlab.data import load_run_dataset
from digitlab.errors import ExportError
from digitlab.modelio import load_model
from digitlab.nn import activations
from digitlab.nn.network import MLP
from digitlab.onnx_export import OPSET, export, to_onnx
from digitlab.training import build_network, train

#: Both presets as they are (activations, loss, bias, init, optimizer), trained briefly and narrow.
TINY = {
    "assignment": preset("assignment").replace(hidden=[48], epochs=1, max_train_samples=1500),
    "report": preset("report").replace(hidden=[48, 48], epochs=1, max_train_samples=3000),
}


def session(model: onnx.ModelProto) -> onnxruntime.InferenceSession:
    return onnxruntime.InferenceSession(model.SerializeToString(),
                                        providers=["CPUExecutionProvider"])




@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """Run folders of the two tiny presets, trained by digitlab.training."""
    folders = {}
    for name, config in TINY.items():
        folders[name] = tmp_path_factory.mktemp(name)
        train(config, run_dir=folders[name], progress=False)
    return folders


@pytest.mark.parametrize("name", ["assignment", "report"])
def test_exported_preset_answers_as_digitlab(name, runs, tmp_path, capsys):
    out = tmp_path / "model.onnx"
    code, stdout, err = run_cli(["export", runs[name], "--format", "onnx", "--out", out], capsys)
    assert code == 0, err
    assert "Wrote" in stdout and out.is_file()

    saved = load_model(runs[name])
    test = load_run_dataset(saved.config).test
    probabilities, outputs = session(onnx.load(out)).run(
        ["probabilities", "outputs"], {"images": test.images})
    expected = saved.network.probabilities(test.images)
    assert probabilities.shape == (len(test.labels), 10) and probabilities.dtype == np.float32
    assert np.abs(probabilities - expected).max() < 1e-5
    assert np.abs(outputs - saved.network.predict(test.images)).max() < 1e-5
    assert np.array_equal(probabilities.argmax(axis=1), saved.network.classify(test.images))
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, atol=1e-5)


@pytest.mark.parametrize("name", ["assignment", "report"])
def test_full_size_presets_agree(name):
    """The real widths (784-784-10, 784-1024-1024-10) with their initial weights."""
    network = build_network(preset(name))
    images = np.random.default_rng(3).random((200, 784), dtype=np.float32)
    probabilities, outputs = session(to_onnx(network)).run(None, {"images": images})
    assert np.abs(probabilities - network.probabilities(images)).max() < 1e-5
    assert np.array_equal(probabilities.argmax(axis=1), network.classify(images))


@pytest.mark.parametrize("activation", ["tanh", "sigmoid", "relu", "swish", "linear"])
def test_every_activation_and_float64(activation):
    for dtype, bias in ((np.float32, False), (np.float64, True)):
        network = MLP([784, 20, 10], [activation, activation], bias=bias, dtype=dtype,
                      rng=np.random.default_rng(4))
        images = np.random.default_rng(5).random((64, 784), dtype=np.float32)
        probabilities, outputs = session(to_onnx(network)).run(None, {"images": images})
        assert outputs.dtype == np.float32
        assert np.abs(outputs - network.predict(images)).max() < 1e-5
        assert np.abs(probabilities - network.probabilities(images)).max() < 1e-5


def test_saturated_tanh_outputs_agree():
    """Every output within rounding of −1 ("none of the digits"): y + 1 would keep no correct
    digit in float32, so digitlab and the graph both take it from z; both match float64."""
    network = MLP([784, 10], ["tanh"], rng=np.random.default_rng(0))
    network.weights[0][...] = np.linspace(-0.009, -0.007, 10, dtype=np.float32)[:, None]
    images = np.random.default_rng(1).uniform(0.8, 1.0, (50, 784)).astype(np.float32)
    ours = network.probabilities(images)
    assert network.predict(images).max() < -0.9998  # every output this close to -1
    exact = network.astype(np.float64).probabilities(images.astype(np.float64))
    assert np.abs(ours - exact).max() < 1e-5
    probabilities, _ = session(to_onnx(network)).run(None, {"images": images})
    assert np.abs(probabilities - ours).max() < 1e-5
    assert np.array_equal(probabilities.argmax(axis=1), ours.argmax(axis=1))


@pytest.mark.parametrize("name", ["tanh", "sigmoid", "relu", "swish", "linear"])
def test_above_low_is_y_minus_low(name):
    f = activations.get_activation(name)
    z = np.linspace(-30, 30, 601)
    np.testing.assert_allclose(f.above_low(z, f.forward(z)), f.forward(z) - f.low, atol=1e-12)


def test_zero_outputs_give_uniform_probabilities():
    """All outputs at their "off" value: digitlab's uniform answer, not a division by zero."""
    network = MLP([784, 10], ["relu"], rng=np.random.default_rng(0))
    network.weights[0][...] = -1.0
    probabilities, _ = session(to_onnx(network)).run(None, {"images": np.ones((2, 784), "f4")})
    assert np.allclose(probabilities, 0.1)
    assert np.allclose(network.probabilities(np.ones((2, 784), "f4")), 0.1)


def test_graph_interface_and_metadata(runs, tmp_path):
    path = export(runs["report"], tmp_path / "m.onnx")
    model = onnx.load(path)
    onnx.checker.check_model(model, full_check=True)
    assert model.opset_import[0].version == OPSET >= 17
    (graph_input,) = model.graph.input
    assert graph_input.name == "images"
    assert graph_input.type.tensor_type.elem_type == onnx.TensorProto.FLOAT
    dims = graph_input.type.tensor_type.shape.dim
    assert dims[0].dim_param == "N" and dims[1].dim_value == 784
    assert [o.name for o in model.graph.output] == ["probabilities", "outputs"]
    ops = {node.op_type for node in model.graph.node}
    assert {"Gemm", "Sigmoid", "Mul", "Softmax"} <= ops  # swish as z·σ(z), softmax output
    props = {p.key: p.value for p in model.metadata_props}
    assert props["digitlab_version"] == __version__ == model.producer_version
    assert TrainConfig.from_dict(json.loads(props["config"])) == TINY["report"]
    assert "pixel / 255" in json.loads(props["preprocessing"])["scale"]
    assert json.loads(props["architecture"])["sizes"] == [784, 48, 48, 10]


def test_refuses_activation_without_onnx_operator(monkeypatch, tmp_path, capsys):
    """An activation added to digitlab without an ONNX mapping is refused, and nothing written."""

    class Cube(activations.Activation):
        name = "cube"

        def forward(self, z):
            return z**3

    monkeypatch.setitem(activations.ACTIVATIONS, "cube", Cube)
    network = MLP([784, 8, 10], ["cube", "tanh"])
    with pytest.raises(ExportError, match="cannot export activation 'cube'"):
        export(network, tmp_path / "cube.onnx")
    assert list(tmp_path.iterdir()) == []


def test_cli_refuses_bad_input_in_one_line(runs, tmp_path, capsys):
    out = tmp_path / "model.onnx"
    out.write_bytes(b"keep me")
    code, _, err = run_cli(["export", runs["assignment"], "--out", out], capsys)
    assert code == 1 and err.count("\n") == 1 and "already exists" in err
    assert out.read_bytes() == b"keep me"
    code, _, _ = run_cli(["export", runs["assignment"], "--out", out, "--overwrite"], capsys)
    assert code == 0 and onnx.load(out).graph.input[0].name == "images"

    broken = tmp_path / "broken.npz"
    broken.write_bytes(b"not a zip")
    code, _, err = run_cli(["export", broken, "--out", tmp_path / "b.onnx"], capsys)
    assert code == 1 and err.count("\n") == 1 and "broken.npz" in err
    assert not (tmp_path / "b.onnx").exists()

    code, _, err = run_cli(["export", runs["assignment"], "--format", "tflite", "--out", out],
                           capsys)
    assert code == 2 and "tflite" in err

    with pytest.raises(ExportError, match="cannot export a dict"):
        export({"weights": 1}, tmp_path / "d.onnx")


def test_refuses_preprocessed_inputs_and_ensembles(runs, tmp_path):
    deskewed = TINY["assignment"].replace(deskew=True)
    network = build_network(deskewed)
    with pytest.raises(ExportError, match=r"preprocessed \(deskew\)"):
        export(types.SimpleNamespace(network=network, config=deskewed), tmp_path / "d.onnx")
    from digitlab.ensembles import save_ensemble

    folder = save_ensemble([runs["assignment"], runs["assignment"]], tmp_path / "ensemble")
    with pytest.raises(ExportError, match="cannot export an ensemble"):
        export(folder, tmp_path / "e.onnx")
    assert not (tmp_path / "d.onnx").exists() and not (tmp_path / "e.onnx").exists()
