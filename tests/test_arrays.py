"""Your own arrays: any (N, d) features with labels 0..K-1 train, evaluate, predict, save,
load and export; bad arrays and image-only options are refused in one line."""

import numpy as np
import onnxruntime
import pytest
from sklearn.datasets import load_digits, make_classification

import digitlab as dl
from digitlab.data import dataset_from_arrays
from digitlab.errors import ConfigError, DataError, ModelFileError
from digitlab.nn.engines import for_config


def digits_8x8():
    """scikit-learn's 8×8 digits, 1797 × 64 in [0, 1], labels 0..9."""
    digits = load_digits()
    return (digits.data / 16.0).astype(np.float32), digits.target


def three_classes():
    """A 3-class problem of 20 features (float64, as scikit-learn makes it)."""
    return make_classification(n_samples=600, n_features=20, n_informative=6,
                               n_classes=3, n_clusters_per_class=1, random_state=0)


#: the two engines' paths: per-sample compiled SGD (the assignment's batch 1) and minibatch Adam
CASES = {
    "digits-8x8 minibatch adam": (digits_8x8, dict(preset="report", hidden=[32], epochs=1,
                                                   lr=0.01), "compiled minibatch steps", 0.8),
    "3 classes per-sample sgd": (three_classes, dict(preset="assignment", hidden=[16],
                                                     epochs=2), "compiled per-sample", 0.7),
}


@pytest.fixture(scope="module", params=list(CASES))
def case(request):
    load, settings, engine, accuracy = CASES[request.param]
    X, y = load()
    return X, y, dl.train(X, y, progress=False, **settings), engine, accuracy


def test_the_network_reads_the_data_s_width_into_its_classes(case):
    X, y, run, engine, accuracy = case
    n_classes = int(y.max()) + 1
    assert run.network.sizes == [X.shape[1], *run.config.hidden, n_classes]
    assert (run.config.n_inputs, run.config.n_classes) == (X.shape[1], n_classes)
    assert run.config.dataset == "arrays"
    assert engine in for_config(run.config).reason  # the compiled kernels, not NumPy's
    test = dataset_from_arrays(X, y, seed=run.config.seed).test  # a tenth of each class
    assert run.evaluation.n == len(test.labels)
    assert abs(len(test.labels) - 0.1 * len(y)) <= n_classes / 2
    assert run.evaluation.accuracy > accuracy
    assert run.evaluation.confusion_matrix.shape == (n_classes, n_classes)
    again = dl.evaluate(run, test.images, test.labels)
    assert again.accuracy == run.evaluation.accuracy


def test_predict_save_and_load_agree(case, tmp_path):
    X, y, run, _, _ = case
    answer = dl.predict(run, X[:50])
    assert answer.probabilities.shape == (50, run.config.n_classes)
    np.testing.assert_array_equal(answer.classes, run.network.classify(X[:50]))
    assert answer.is_digit.all() and answer.calibration is None
    np.testing.assert_array_equal(dl.predict(run, X[0]).classes, answer.classes[:1])  # one row

    path = dl.save_model(run, tmp_path / "model.npz")
    loaded = dl.load_model(path)
    assert loaded.config == run.config and loaded.network.sizes == run.network.sizes
    np.testing.assert_array_equal(loaded.network.params, run.network.params)
    np.testing.assert_array_equal(dl.predict(path, X[:50]).probabilities, answer.probabilities)
    assert dl.evaluate(path, X, y).accuracy == dl.evaluate(run, X, y).accuracy
    with pytest.raises(dl.DigitlabError, match="already exists"):
        dl.save_model(run, path)
    with pytest.raises(DataError, match="values per row; the model reads"):
        dl.predict(run, X[:5, :-1])
    with pytest.raises(DataError, match="trained on arrays"):
        dl.evaluate(run)  # its test split is not kept: give the arrays


def test_onnx_export_answers_as_digitlab(case, tmp_path):
    X, _, run, _, _ = case
    out = dl.export(run, tmp_path / "model.onnx")
    session = onnxruntime.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    images = X.astype(np.float32)
    probabilities, outputs = session.run(["probabilities", "outputs"], {"images": images})
    assert probabilities.shape == (len(X), run.config.n_classes)
    assert np.abs(probabilities - run.network.probabilities(images)).max() < 1e-5
    assert np.abs(outputs - run.network.predict(images)).max() < 1e-5
    assert np.array_equal(probabilities.argmax(axis=1), run.network.classify(images))
    described = session.get_modelmeta().custom_metadata_map
    assert f"(N, {X.shape[1]})" in described["input"] and "28x28" not in described["input"]


def test_train_takes_the_arrays_either_way_and_splits_them_by_the_seed():
    X, y = three_classes()
    settings = dict(preset="assignment", hidden=[8], epochs=1, progress=False)
    first = dl.train(X, y, **settings)
    second = dl.train(dataset=(X, y), **settings)
    np.testing.assert_array_equal(first.network.params, second.network.params)
    other = dl.train(X, y, seed=1, **settings)
    assert not np.array_equal(first.network.params, other.network.params)
    with pytest.raises(ConfigError, match="give your arrays once"):
        dl.train(X, y, dataset=(X, y))


@pytest.mark.parametrize("images, labels, message", [
    (np.zeros(30), np.arange(30) % 2, "must be a 2-D array"),
    (np.full((30, 4), np.nan), np.arange(30) % 2, "NaN or infinite"),
    (np.zeros((30, 4)), (np.arange(30) % 2) + 0.5, "must be integers"),
    (np.zeros((30, 4)), np.array(["a", "b"] * 15), "must be integers"),
    (np.zeros((30, 4)), np.ones(30, dtype=int), "single class"),
    (np.zeros((30, 4)), np.arange(30) - 1, "must be integers 0..K-1"),
    (np.zeros((30, 4)), np.arange(29) % 2, "1-D array of 30"),
    (np.array([["a", "b"]] * 30), np.arange(30) % 2, "real numbers"),
])
def test_bad_arrays_are_refused_in_one_line(images, labels, message):
    with pytest.raises(DataError, match=message) as caught:
        dl.train(images, labels, hidden=[4], epochs=1, progress=False)
    assert "\n" not in str(caught.value)


def test_what_needs_28x28_digits_refuses_other_data_clearly():
    X, y = three_classes()
    for option in ({"deskew": True}, {"augment_rotation": 10.0}, {"elastic_alpha": 2.0},
                   {"preset": "robust"}):
        with pytest.raises(ConfigError, match="works on 28×28 images .* the data has 20 "
                                              "features"):
            dl.train(X, y, hidden=[4], epochs=1, progress=False, **option)
    network = dl.MLP([20, 4, 3], ["relu", "softmax"])  # as trained on these arrays
    for refused in (lambda: dl.dream(network, digit=1),
                    lambda: dl.analyze(network, out="unused")):
        with pytest.raises(ModelFileError, match="reads 20 inputs into 3 outputs; digitlab's "
                                                 "digits need 784"):
            refused()
    with pytest.raises(DataError, match="20 features per sample, not 28×28 images"):
        dataset_from_arrays(X, y).show()
