"""Ensembles: averaged probabilities, saved as a folder, loaded like a single model."""

import json

import numpy as np
import pytest

from digitlab.config import TrainConfig
from digitlab.ensembles import Ensemble, save_ensemble
from digitlab.errors import ModelFileError
from digitlab.evaluation import evaluate
from digitlab.loading import load_any
from digitlab.modelio import MODEL_FILE, load_model, save_model
from digitlab.nn import MLP
from digitlab.nn.losses import get_loss


def member(tmp_path, name, seed, config_seed=0, activation="softmax"):
    loss = "ce" if activation == "softmax" else "mse"
    config = TrainConfig(hidden=[16], activation="relu", output_activation=activation, loss=loss,
                         seed=config_seed)
    net = MLP([784, 16, 10], ["relu", activation], rng=np.random.default_rng(seed))
    run = tmp_path / name
    run.mkdir()
    save_model(run / MODEL_FILE, net, config=config)
    return run, net


def test_ensemble_averages_the_members_probabilities(tmp_path):
    runs = [member(tmp_path, f"run{k}", seed=k) for k in range(3)]
    runs.append(member(tmp_path, "tanh", seed=9, activation="tanh"))  # ±1 outputs mix in too
    out = save_ensemble([run for run, _ in runs], tmp_path / "ens")
    x = np.random.default_rng(0).random((20, 784), dtype=np.float32)
    expected = np.mean([net.probabilities(x) for _, net in runs], axis=0)
    saved = load_any(out)
    assert isinstance(saved.network, Ensemble) and saved.model is saved.network
    np.testing.assert_allclose(saved.network.probabilities(x), expected, rtol=1e-5)
    np.testing.assert_allclose(saved.network.probabilities(x).sum(axis=1), 1.0, rtol=1e-5)
    np.testing.assert_array_equal(saved.network.classify(x), expected.argmax(axis=1))
    labels = np.arange(20) % 10
    result = evaluate(saved.network, x, labels, "ce")
    assert result.accuracy == pytest.approx(np.mean(expected.argmax(axis=1) == labels))
    members = json.loads((out / "ensemble.json").read_text())["members"]
    assert members == ["members/00.npz", "members/01.npz", "members/02.npz", "members/03.npz"]


def test_members_with_different_test_splits_are_refused(tmp_path):
    first, _ = member(tmp_path, "a", seed=0, config_seed=0)
    second, _ = member(tmp_path, "b", seed=1, config_seed=1)
    with pytest.raises(ModelFileError, match="split differently"):
        save_ensemble([first, second], tmp_path / "ens")
    assert not (tmp_path / "ens").exists()


def test_an_ensemble_never_overwrites_a_folder_and_rejects_bad_descriptions(tmp_path):
    run, _ = member(tmp_path, "a", seed=0)
    out = save_ensemble([run], tmp_path / "ens")
    with pytest.raises(ModelFileError, match="not empty"):
        save_ensemble([run], out)
    (out / "ensemble.json").write_text(json.dumps({"format": "digitlab-ensemble",
                                                   "members": ["../a/model.npz"]}))
    with pytest.raises(ModelFileError, match="outside the ensemble folder"):
        load_any(out)
    (out / "ensemble.json").write_text("{not json")
    with pytest.raises(ModelFileError, match="cannot read ensemble"):
        load_any(out)


def test_the_api_evaluates_and_analyzes_an_ensemble_folder_like_a_single_model(tmp_path):
    import digitlab as dl
    from digitlab.data import load_dataset

    runs = [member(tmp_path, f"run{k}", seed=k, activation="tanh") for k in range(2)]
    out = save_ensemble([run for run, _ in runs], tmp_path / "ens")
    test = load_dataset().test  # the members' saved config: the shipped sample, seed 0
    expected = np.mean([net.probabilities(test.images) for _, net in runs], axis=0)
    result = dl.evaluate(out)
    assert result.loss == "ce"  # averaged probabilities, not the members' ±1 outputs
    assert result.n == len(test.labels)
    np.testing.assert_array_equal(result.predictions, expected.argmax(axis=1))
    assert result.accuracy == pytest.approx(np.mean(expected.argmax(axis=1) == test.labels))
    analysis = dl.analyze(out, tmp_path / "analysis", retrain=0, nondigits=5, progress=False)
    assert (tmp_path / "analysis" / "analysis.json").is_file()
    assert analysis["findings"]


def test_a_network_a_preprocessed_network_and_an_ensemble_are_all_models(tmp_path):
    from digitlab.models import Model
    from digitlab.preprocessing import with_preprocessing

    runs = [member(tmp_path, f"run{k}", seed=k) for k in range(2)]
    ensemble = load_any(save_ensemble([run for run, _ in runs], tmp_path / "ens")).network
    network = runs[0][1]
    x = np.random.default_rng(1).random((5, 784), dtype=np.float32)
    for model in (network, with_preprocessing(network, ["deskew"]), ensemble):
        assert isinstance(model, Model), type(model).__name__
        p = model.probabilities(x)
        assert p.shape == (5, model.sizes[-1]) == (5, 10)
        np.testing.assert_allclose(p.sum(axis=1), 1.0, rtol=1e-5)
        np.testing.assert_array_equal(model.classify(x), p.argmax(axis=1))
        z, y = model.output_layer(x)
        np.testing.assert_allclose(model.output_to_probabilities(y, z), p, rtol=1e-5)
        assert model.forward(x).output.shape == (5, 10)
        assert model.targets(np.arange(5), get_loss("ce")).shape == (5, 10)
    assert not isinstance(object(), Model)


def test_load_any_reads_each_kind_of_path_and_modelio_reads_only_model_files(tmp_path):
    run, network = member(tmp_path, "run", seed=0)
    out = save_ensemble([run], tmp_path / "ens")
    assert isinstance(load_any(run).network, MLP)
    assert isinstance(load_any(run / MODEL_FILE).network, MLP)
    assert isinstance(load_any(out).network, Ensemble)
    with pytest.raises(ModelFileError, match="no such model file"):
        load_model(out)


def test_ensemble_members_split_by_the_config_data_seed(tmp_path):
    first, _ = member(tmp_path, "a", seed=0, config_seed=5)
    second = tmp_path / "b"
    second.mkdir()
    config = TrainConfig(hidden=[16], activation="relu", output_activation="softmax",
                         loss="ce", seed=7, split_seed=5)  # another seed, the same split
    assert config.data_seed == TrainConfig(seed=5).data_seed
    save_model(second / MODEL_FILE, MLP([784, 16, 10], ["relu", "softmax"]), config=config)
    assert isinstance(load_any(save_ensemble([first, second], tmp_path / "ens")).network,
                      Ensemble)
