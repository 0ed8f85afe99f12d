"""digitlab.sklearn.MLPClassifier: scikit-learn's own checks, and the estimator in Pipeline,
GridSearchCV, cross_val_score and clone, on any labels, deterministic given random_state."""

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.estimator_checks import parametrize_with_checks

import digitlab as dl
from digitlab.config import preset
from digitlab.sklearn import BASE_CONFIG, MLPClassifier

#: small enough for scikit-learn's ~55 checks to run in a few seconds: the reference engine
#: (the same maths as the compiled one, tested equal in test_engines.py) starts no threads
CHECKED = MLPClassifier(hidden=(16,), epochs=10, lr=0.01, engine="reference")
#: a quick network on the embedded digits, on the default engine (the compiled kernels)
QUICK = dict(hidden=(16,), epochs=2, lr=0.01, random_state=0)
#: the same on the reference engine, for the tests that fit many times: on tiny layers it
#: measured 0.05 s a fit here against 0.2-1.1 s for the compiled one's threads on busy cores
QUICKER = {**QUICK, "engine": "reference"}


@parametrize_with_checks([CHECKED])
def test_scikit_learn_estimator_checks(estimator, check):
    """Every check passes; none is expected to fail. Two are skipped where scikit-learn skips
    them: check_array_api_input (only with SCIPY_ARRAY_API=1; digitlab computes in NumPy)
    and check_classifier_data_not_an_array (only with pandas installed)."""
    check(estimator)


@pytest.fixture(scope="module")
def digits():
    """600 training digits and 300 test digits of the embedded sample."""
    data = dl.load_dataset()
    return (data.train.images[:600], data.train.labels[:600], data.test.images[:300],
            data.test.labels[:300])


def test_hyperparameters_are_the_train_config_s_over_the_preset():
    drawn = MLPClassifier().train_config()  # random_state None: a seed drawn each time
    assert drawn == BASE_CONFIG.replace(seed=drawn.seed, test_fraction=0.0)
    model = MLPClassifier(preset="assignment", hidden=(8, 4), lr=0.05, random_state=3)
    assert model.train_config() == preset("assignment").replace(
        hidden=[8, 4], lr=0.05, seed=3, test_fraction=0.0)
    assert model.get_params()["hidden"] == (8, 4)
    model.set_params(hidden=7, dropout=0.1)
    assert model.train_config().hidden == [7] and model.train_config().dropout == [0.1]
    with pytest.raises(ValueError, match="activation must be one of") as caught:
        MLPClassifier(activation="nope").fit(np.eye(4), [0, 1, 0, 1])
    assert "\n" not in str(caught.value)


def test_any_labels_and_deterministic_given_random_state(digits):
    images, labels, test_images, test_labels = digits
    names = np.array(["zero", "one", "two", "three", "four", "five", "six", "seven", "eight",
                      "nine"])
    model = MLPClassifier(**QUICKER).fit(images, names[labels])
    assert list(model.classes_) == sorted(names) and model.n_features_in_ == 784
    read = model.predict(test_images)
    assert read.dtype == names.dtype and np.mean(read == names[test_labels]) > 0.6
    probabilities = model.predict_proba(test_images)  # columns in the order of classes_
    np.testing.assert_array_equal(model.classes_[probabilities.argmax(axis=1)], read)

    gaps = np.array([3, 7, 40, 41, 99, 100, 101, 500, 501, 900])  # integers with gaps
    reference = MLPClassifier(**QUICKER).fit(images, gaps[labels])
    np.testing.assert_array_equal(reference.classes_, gaps)
    assert np.mean(reference.predict(test_images) == gaps[test_labels]) > 0.6
    other = MLPClassifier(**{**QUICKER, "random_state": 1}).fit(images, gaps[labels])
    assert not np.allclose(other.result_.network.params, reference.result_.network.params)
    first = MLPClassifier(**QUICK).fit(images, gaps[labels])  # the compiled kernels
    again = MLPClassifier(**QUICK).fit(images, gaps[labels])
    np.testing.assert_array_equal(again.result_.network.params, first.result_.network.params)
    np.testing.assert_allclose(first.result_.network.params, reference.result_.network.params,
                               atol=2e-5)  # the same maths


def test_the_estimator_reads_as_it_trained_deskewed_and_calibrated(digits):
    """Its preprocessing (deskew) and calibration apply to every X it reads."""
    images, labels, test_images, _ = digits
    model = MLPClassifier(**QUICKER, deskew=True, calibration_fraction=0.2).fit(images, labels)
    assert model.result_.calibration is not None
    np.testing.assert_allclose(model.predict_proba(test_images),
                               model.result_.model.probabilities(test_images), atol=1e-6)
    raw = model.result_.network.probabilities(test_images)  # neither deskewed nor calibrated
    assert np.abs(model.predict_proba(test_images) - raw).max() > 0.1


def test_partial_fit_continues_as_fit_trains_its_epochs(digits):
    """Two partial_fit calls on the same data are fit's two epochs: the same weights."""
    images, labels, _, _ = digits
    settings = {**QUICKER, "epochs": None}
    stepwise = MLPClassifier(**settings)
    stepwise.partial_fit(images, labels, classes=np.arange(10))
    assert stepwise.n_iter_ == 1
    stepwise.partial_fit(images, labels)
    whole = MLPClassifier(**{**settings, "epochs": 2}).fit(images, labels)
    assert stepwise.n_iter_ == whole.n_iter_ == 2
    np.testing.assert_array_equal(stepwise.result_.network.params, whole.result_.network.params)
    stepwise.partial_fit(images[:40], np.full(40, 3))  # a batch of one class is fine now
    with pytest.raises(ValueError, match="not among classes_"):
        stepwise.partial_fit(images[:5], np.full(5, 11))
    with pytest.raises(ValueError, match="different config .*lr"):
        stepwise.set_params(lr=0.5).partial_fit(images[:5], labels[:5])


def test_pipeline_cross_validation_and_clone(digits, capfd):
    images, labels, _, _ = digits
    pipeline = make_pipeline(StandardScaler(), MLPClassifier(**QUICKER))
    scores = cross_val_score(pipeline, images, labels, cv=2)
    assert scores.shape == (2,) and scores.min() > 0.5
    copy = clone(pipeline[-1])
    assert copy.get_params() == pipeline[-1].get_params() and not hasattr(copy, "result_")
    captured = capfd.readouterr()  # quiet by default: no progress bars
    assert "epoch" not in captured.err and "img" not in captured.err and not captured.out


def test_grid_search_over_two_hyperparameters(digits):
    images, labels, test_images, test_labels = digits
    search = GridSearchCV(MLPClassifier(**QUICKER),
                          {"hidden": [(8,), (32,)], "lr": [1e-3, 1e-2]}, cv=2)
    search.fit(images, labels)
    assert len(search.cv_results_["params"]) == 4
    assert search.best_params_ in search.cv_results_["params"]
    assert search.best_estimator_.get_params()["hidden"] == search.best_params_["hidden"]
    assert search.score(test_images, test_labels) > 0.6
