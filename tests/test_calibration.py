"""Calibrated confidence: temperature scaling, the ECE, the stored calibration, the split and the
reliability diagram, on synthetic logits and small hand-built networks (no training)."""

import json

import numpy as np
import pytest

from digitlab.calibration import (
    Calibration,
    calibrate,
    calibration_split,
    expected_calibration_error,
    fit_temperature,
    logits_from_outputs,
    negative_log_likelihood,
    network_logits,
    nll_derivative,
    reliability,
    softmax,
)
from digitlab.errors import ConfigError, DataError, ModelFileError
from digitlab.nn import MLP


def synthetic(n, n_classes=10, temperature=1.0, seed=0, spread=3.0):
    """Logits (n, K) and labels drawn from softmax(logits / temperature): a set on which the
    temperature that fits best is ``temperature``."""
    rng = np.random.default_rng(seed)
    logits = rng.normal(0.0, spread, (n, n_classes))
    p = softmax(logits, temperature)
    labels = (rng.random(n)[:, None] > np.cumsum(p, axis=1)).sum(axis=1)
    return logits, np.minimum(labels, n_classes - 1)


def confident_set(n, accuracy_of, seed=0, n_classes=10):
    """Probabilities whose largest entry c ~ U(0.1, 1) (the rest shared equally), and labels
    that are the predicted class with probability ``accuracy_of(c)``, another class otherwise."""
    rng = np.random.default_rng(seed)
    c = rng.uniform(0.1, 1.0, n)
    predicted = rng.integers(0, n_classes, n)
    p = np.repeat(((1.0 - c) / (n_classes - 1))[:, None], n_classes, axis=1)
    p[np.arange(n), predicted] = c
    right = rng.random(n) < accuracy_of(c)
    other = (predicted + rng.integers(1, n_classes, n)) % n_classes
    return p, np.where(right, predicted, other)


@pytest.fixture(scope="module")
def centroids():
    """A one-layer softmax MLP reading digits by their nearest class mean (about 80 % right),
    built without training, and the embedded data's test split to calibrate it on."""
    import digitlab

    data = digitlab.load_dataset()
    x, t = data.train.images, data.train.labels
    means = np.stack([x[t == k].mean(axis=0) for k in range(10)])  # (10, 784)
    net = MLP([784, 10], ["softmax"], bias=True)
    # z_k = μ_k·x − ½‖μ_k‖², centred over the classes: the nearest mean has the largest z
    net.weights[0][...] = means - means.mean(axis=0)
    bias = -0.5 * (means * means).sum(axis=1)
    net.biases[0][...] = bias - bias.mean()
    return net, data.test.images, data.test.labels


def scaled(net, factor, activation=None):
    """A copy of ``net`` with its last layer (weights and bias) multiplied by ``factor``."""
    activations = list(net.activation_names)
    if activation is not None:
        activations[-1] = activation
    copy = MLP(net.sizes, activations, bias=net.has_bias)
    copy.params[...] = net.params
    copy.weights[-1][...] *= factor
    if copy.has_bias:
        copy.biases[-1][...] *= factor
    return copy


# ---------------------------------------------------------------------- the NLL and its derivative
def test_nll_derivative_matches_central_differences():
    logits, labels = synthetic(300, temperature=1.5, seed=1)
    for t in (0.3, 0.9, 1.0, 2.5, 7.0):
        h = 1e-6 * t
        numeric = (negative_log_likelihood(logits, labels, t + h)
                   - negative_log_likelihood(logits, labels, t - h)) / (2 * h)
        assert nll_derivative(logits, labels, t) == pytest.approx(numeric, rel=1e-6, abs=1e-9)


def test_nll_at_temperature_one_is_the_cross_entropy():
    logits, labels = synthetic(50, seed=2)
    p = softmax(logits)
    expected = -np.mean(np.log(p[np.arange(50), labels]))
    assert negative_log_likelihood(logits, labels) == pytest.approx(expected, rel=1e-12)
    np.testing.assert_allclose(p.sum(axis=1), 1.0, rtol=1e-12)


# ---------------------------------------------------------------------- fitting T
def test_fit_recovers_the_temperature_the_labels_were_drawn_with():
    for true_t in (0.5, 2.0):
        logits, labels = synthetic(20_000, temperature=true_t, seed=3)
        t = fit_temperature(logits, labels)
        assert t == pytest.approx(true_t, rel=0.05)
        assert nll_derivative(logits, labels, t) == pytest.approx(0.0, abs=1e-5)


def test_fit_is_deterministic_and_scales_with_the_logits():
    logits, labels = synthetic(2000, temperature=1.7, seed=4)
    t = fit_temperature(logits, labels)
    assert fit_temperature(logits, labels) == t
    # softmax(c s / (c T)) = softmax(s / T): logits c times larger need a c times larger T
    assert fit_temperature(3.0 * logits, labels) == pytest.approx(3.0 * t, rel=1e-5)


def test_logits_that_say_nothing_keep_temperature_one():
    labels = np.arange(40) % 10
    assert fit_temperature(np.zeros((40, 10)), labels) == 1.0


@pytest.mark.parametrize("logits, labels", [
    (np.zeros((0, 10)), np.zeros(0, dtype=int)),
    (np.zeros((3, 10)), np.array([0, 1])),
    (np.zeros((3, 10)), np.array([0, 1, 10])),
    (np.zeros((3, 10)), np.array([0.0, 1.0, 2.0])),
    (np.array([[0.0, np.inf], [0.0, 1.0]]), np.array([0, 1])),
])
def test_fit_refuses_bad_inputs(logits, labels):
    with pytest.raises(DataError):
        fit_temperature(logits, labels)


# ---------------------------------------------------------------------- ECE and reliability
def test_ece_of_a_calibrated_set_is_near_zero_and_of_an_overconfident_one_large():
    p, labels = confident_set(100_000, lambda c: c, seed=5)  # right as often as it claims
    assert expected_calibration_error(p, labels) < 0.01
    p, labels = confident_set(100_000, lambda c: 0.5 * c, seed=6)  # right half as often
    ece = expected_calibration_error(p, labels)
    # E[c − c/2] = E[c]/2 = 0.275 for c ~ U(0.1, 1)
    assert ece == pytest.approx(0.275, abs=0.01)


def test_reliability_bins_by_hand():
    # confidences 0.95, 0.9, 0.55 and 0.5 in two bins: (0.5, 1] gets the first three...
    p = np.array([[0.95, 0.05], [0.1, 0.9], [0.55, 0.45], [0.5, 0.5]])
    labels = np.array([0, 0, 0, 1])
    rel = reliability(p, labels, n_bins=2)
    np.testing.assert_array_equal(rel.count, [1, 3])  # ...and 0.5 lies on an edge: lower bin
    np.testing.assert_allclose(rel.confidence, [0.5, (0.95 + 0.9 + 0.55) / 3])
    np.testing.assert_allclose(rel.accuracy, [0.0, 2 / 3])  # argmax of [0.5, 0.5] is 0, not 1
    expected = 0.25 * 0.5 + 0.75 * abs(2 / 3 - 0.8)
    assert rel.ece == pytest.approx(expected)
    assert expected_calibration_error(p, labels, n_bins=2) == pytest.approx(expected)
    as_json = json.loads(json.dumps(reliability(p, labels).to_dict()))  # 15 bins, empty → null
    assert len(as_json["count"]) == 15 and as_json["accuracy"][0] is None
    assert np.isnan(expected_calibration_error(np.zeros((0, 2)), np.zeros(0, dtype=int)))
    with pytest.raises(ConfigError):
        reliability(p, labels, n_bins=0)


# ---------------------------------------------------------------------- logits of each output
@pytest.mark.parametrize("activation", ["softmax", "tanh", "sigmoid", "relu", "linear"])
def test_calibration_logits_give_the_networks_probabilities_at_temperature_one(activation):
    rng = np.random.default_rng(7)
    net = MLP([784, 16, 10], ["tanh", activation], bias=True, dtype=np.float64, rng=rng)
    x = rng.random((64, 784))
    z, y = net.output_layer(x)
    s = network_logits(net, x)
    np.testing.assert_allclose(softmax(s), net.probabilities(x), atol=1e-10)
    np.testing.assert_allclose(logits_from_outputs(activation, z), s)
    if activation == "tanh":  # s = log σ(2z) = log((1 + tanh z) / 2)
        np.testing.assert_allclose(s, np.log((1.0 + y) / 2.0), atol=1e-12)


def test_tanh_logits_stay_exact_where_the_outputs_round_to_minus_one():
    z = np.array([[-30.0, -40.0, 1.0], [-60.0, -70.0, -80.0]], dtype=np.float32)
    s = logits_from_outputs("tanh", z)
    assert np.isfinite(s).all()
    np.testing.assert_allclose(s[1], 2.0 * z[1], rtol=1e-12)  # log σ(2z) ≈ 2z far below zero
    np.testing.assert_allclose(softmax(s)[1], softmax(2.0 * z[1].astype(np.float64)))


def test_clipped_outputs_without_any_answer_are_uniform():
    z = np.array([[-1.0, -2.0, -3.0], [2.0, -1.0, 0.0]])
    s = logits_from_outputs("relu", z)
    np.testing.assert_allclose(softmax(s)[0], 1 / 3)
    np.testing.assert_allclose(softmax(s)[1], [1.0, 0.0, 0.0], atol=1e-11)


# ---------------------------------------------------------------------- calibrating a network
def test_temperature_scaling_repairs_an_overconfident_network(centroids):
    net, images, labels = centroids
    loud = scaled(net, 5.0)  # the same answers, five times louder logits
    np.testing.assert_array_equal(loud.classify(images), net.classify(images))
    plain, calibrated = calibrate(net, images, labels), calibrate(loud, images, labels)
    assert calibrated.temperature > 1.0
    assert calibrated.temperature == pytest.approx(5.0 * plain.temperature, rel=1e-4)
    assert calibrated.fitted_on == len(labels) and calibrated.n_bins == 15
    assert calibrated.ece_before > 0.1  # sure of itself far beyond its ~80 % accuracy
    assert calibrated.ece_after < 0.5 * calibrated.ece_before
    assert calibrated.ece_after == pytest.approx(plain.ece_after, abs=1e-6)
    p = calibrated.probabilities(loud, images)
    assert p.dtype == loud.dtype and p.shape == (len(images), 10)
    np.testing.assert_allclose(p.sum(axis=1), 1.0, rtol=1e-5)
    np.testing.assert_array_equal(p.argmax(axis=1), loud.classify(images))  # T keeps answers
    assert expected_calibration_error(p, labels) == pytest.approx(calibrated.ece_after, abs=1e-5)
    before = expected_calibration_error(loud.probabilities(images), labels)
    assert before == pytest.approx(calibrated.ece_before, abs=1e-5)


def test_calibrating_a_tanh_network_of_the_assignment_kind(centroids):
    net, images, labels = centroids
    tanh = scaled(net, 0.1, activation="tanh")  # ±1 outputs, p_k ∝ 1 + y_k: underconfident
    result = calibrate(tanh, images, labels)
    assert 0.01 < result.temperature < 1.0
    assert result.ece_after < result.ece_before


def test_calibrating_an_ensemble_and_a_preprocessed_model(centroids):
    from digitlab.ensembles import Ensemble
    from digitlab.preprocessing import with_preprocessing

    net, images, labels = centroids
    images, labels = images[:300], labels[:300]
    ensemble = Ensemble([scaled(net, 4.0), scaled(net, 6.0)])  # its logits are log p
    result = calibrate(ensemble, images, labels)
    before = expected_calibration_error(ensemble.probabilities(images), labels)
    assert result.ece_before == pytest.approx(before, abs=1e-5)
    assert result.temperature > 1.0 and result.ece_after < result.ece_before
    deskewed = with_preprocessing(scaled(net, 5.0), ["deskew"])  # raw images in
    result = calibrate(deskewed, images, labels)
    np.testing.assert_array_equal(result.probabilities(deskewed, images).argmax(axis=1),
                                  deskewed.classify(images))


def test_calibrate_refuses_mismatched_images(centroids):
    net, images, labels = centroids
    with pytest.raises(DataError):
        calibrate(net, images[:, :100], labels)
    with pytest.raises(DataError):
        calibrate(net, images, labels[:-1])


# ---------------------------------------------------------------------- stored as JSON
def test_calibration_round_trips_through_json():
    cal = Calibration(temperature=1.83, fitted_on=900, ece_before=0.12, ece_after=0.02)
    data = json.loads(json.dumps(cal.to_dict()))
    assert data == {"temperature": 1.83, "fitted_on": 900, "ece_before": 0.12,
                    "ece_after": 0.02, "n_bins": 15, "threshold": None}
    assert Calibration.from_dict(data) == cal
    assert Calibration.from_dict({"temperature": 2}) == Calibration(2.0)
    assert Calibration.from_dict({**data, "added_later": 1}) == cal
    logits = np.array([[2.0, 0.0], [0.0, 0.0]], dtype=np.float32)
    p = cal.apply(logits)
    assert p.dtype == np.float32
    np.testing.assert_allclose(p[0, 0], 1 / (1 + np.exp(-2.0 / 1.83)), rtol=1e-6)
    np.testing.assert_allclose(p[1], 0.5)


@pytest.mark.parametrize("temperature", [0, -1.5, float("nan"), float("inf"), "2", True, None,
                                         [1.0]])
def test_bad_temperatures_are_refused_with_one_line(temperature):
    with pytest.raises(ModelFileError, match="temperature") as error:
        Calibration.from_dict({"temperature": temperature, "fitted_on": 10})
    assert "\n" not in str(error.value)
    with pytest.raises(ConfigError, match="temperature"):
        Calibration(temperature=temperature)


@pytest.mark.parametrize("data", [
    None, [], "1.5", {}, {"temperature": 1.0, "fitted_on": -1},
    {"temperature": 1.0, "fitted_on": 2.5}, {"temperature": 1.0, "ece_before": 1.5},
    {"temperature": 1.0, "ece_after": "low"}, {"temperature": 1.0, "n_bins": 0},
])
def test_bad_calibration_entries_are_refused(data):
    with pytest.raises(ModelFileError) as error:
        Calibration.from_dict(data)
    assert "\n" not in str(error.value)


# ---------------------------------------------------------------------- the calibration split
def test_calibration_split_is_deterministic_and_disjoint():
    train, held = calibration_split(1000, 0.1, seed=3)
    again = calibration_split(1000, 0.1, seed=3)
    np.testing.assert_array_equal(train, again[0])
    np.testing.assert_array_equal(held, again[1])
    assert held.size == 100 and train.size == 900
    assert np.intersect1d(train, held).size == 0
    np.testing.assert_array_equal(np.sort(np.concatenate([train, held])), np.arange(1000))
    assert train.dtype == held.dtype == np.int64
    assert np.all(np.diff(train) > 0) and np.all(np.diff(held) > 0)
    assert not np.array_equal(held, calibration_split(1000, 0.1, seed=4)[1])
    assert calibration_split(3, 0.01, seed=0)[1].size == 1  # never empty...
    assert calibration_split(3, 0.99, seed=0)[0].size == 1  # ...and never everything


def test_calibration_split_by_class_keeps_each_class_share():
    labels = np.repeat(np.arange(10), [100, 200, 100, 100, 100, 100, 100, 100, 100, 300])
    train, held = calibration_split(labels.size, 0.1, seed=0, labels=labels)
    np.testing.assert_array_equal(np.bincount(labels[held]), [10, 20] + [10] * 7 + [30])
    assert np.intersect1d(train, held).size == 0 and train.size + held.size == labels.size
    again = calibration_split(labels.size, 0.1, seed=0, labels=labels)
    np.testing.assert_array_equal(held, again[1])


@pytest.mark.parametrize("n, fraction, seed", [
    (1, 0.1, 0), (100, 0.0, 0), (100, 1.0, 0), (100, -0.1, 0), (100, 0.1, -1), (100, 0.1, 1.5),
    (True, 0.1, 0), (100, "0.1", 0),
])
def test_calibration_split_refuses_bad_arguments(n, fraction, seed):
    with pytest.raises(ConfigError):
        calibration_split(n, fraction, seed)


# ---------------------------------------------------------------------- the reliability diagram
def test_reliability_diagram_is_written_with_title_and_axis_labels(tmp_path):
    from digitlab.plots.calibration import plot_reliability, reliability_figure

    p, labels = confident_set(2000, lambda c: 0.6 * c, seed=8)
    logits = np.log(p)
    before = reliability(p, labels)
    t = fit_temperature(logits, labels)
    after = reliability(softmax(logits, t), labels)
    fig = reliability_figure(before, after, title="Digits before and after", temperature=t)
    assert "Digits before and after" in [text.get_text() for text in fig.texts]  # suptitle
    axes = fig.axes
    assert len(axes) == 2
    assert axes[0].get_ylabel() and all(ax.get_xlabel().startswith("confidence") for ax in axes)
    assert "before" in axes[0].get_title() and f"T = {t:.3g}" in axes[1].get_title()
    legends = [[text.get_text() for text in ax.get_legend().get_texts()] for ax in axes]
    assert any(f"ECE {100 * before.ece:.2f} %" in text for text in legends[0])
    assert any(f"ECE {100 * after.ece:.2f} %" in text for text in legends[1])
    path = plot_reliability(before, after, tmp_path / "plots" / "reliability.png",
                            temperature=t)
    assert path == tmp_path / "plots" / "reliability.png"
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    single = reliability_figure(before)  # one panel without an "after"
    assert len(single.axes) == 1


# ---------------------------------------------------------------------- "not a digit"
def test_digit_threshold_lets_the_chosen_share_of_digits_through():
    from digitlab.calibration import digit_threshold

    top = np.random.default_rng(0).uniform(0.3, 1.0, 1000)
    threshold = digit_threshold(top, accepted=0.95)
    assert np.mean(top >= threshold) == pytest.approx(0.95, abs=0.002)
    assert digit_threshold(top, accepted=0.5) > threshold


@pytest.mark.parametrize("bad", [-0.1, 1.5, float("nan"), "0.5", True])
def test_a_bad_threshold_is_refused_in_one_line(bad):
    with pytest.raises(ModelFileError, match="threshold") as error:
        Calibration.from_dict({"temperature": 1.0, "threshold": bad})
    assert "\n" not in str(error.value)


def test_a_calibrated_model_file_gives_calibrated_probabilities_and_says_not_a_digit(tmp_path):
    from digitlab.calibration import Calibrated, calibrate, softmax
    from digitlab.modelio import load_model, save_model
    from digitlab.nn.network import MLP

    rng = np.random.default_rng(3)
    network = MLP([6, 5, 3], ["tanh", "softmax"], bias=True, dtype=np.float64, rng=rng)
    network.weights[-1] *= 8.0  # overconfident
    images, labels = rng.random((300, 6)), rng.integers(0, 3, 300)
    calibration = calibrate(network, images, labels, with_threshold=True)
    assert calibration.threshold is not None
    path = save_model(tmp_path / "model.npz", network,
                      extra={"calibration": calibration.to_dict()})
    saved = load_model(path)
    assert saved.calibration == calibration
    model = saved.model
    assert isinstance(model, Calibrated)
    z, _ = network.output_layer(images)
    np.testing.assert_allclose(model.probabilities(images),
                               softmax(z, calibration.temperature), rtol=1e-12)
    np.testing.assert_array_equal(model.classify(images), network.classify(images))
    top = model.probabilities(images).max(axis=1)
    np.testing.assert_array_equal(model.is_digit(images), top >= calibration.threshold)
    assert 0.9 <= model.is_digit(images).mean() < 1.0


def test_a_model_file_with_a_bad_calibration_is_refused_naming_the_file(tmp_path):
    from digitlab.modelio import load_model, save_model
    from digitlab.nn.network import MLP

    network = MLP([4, 3], ["softmax"], dtype=np.float64)
    path = save_model(tmp_path / "model.npz", network,
                      extra={"calibration": {"temperature": -1.0}})
    with pytest.raises(ModelFileError, match=r"model\.npz: calibration temperature"):
        load_model(path)


# ---------------------------------------------------------------------- the hidden-layer test
def test_digit_thresholds_let_the_chosen_share_through_both_tests_each_passing_alike():
    from digitlab.calibration import digit_thresholds

    rng = np.random.default_rng(4)
    top = rng.uniform(0.3, 1.0, 1000)
    hidden = -rng.gamma(2.0, size=1000) - 3.0 * (1.0 - top)  # partly agreeing scores
    tau_top, tau_hidden = digit_thresholds(top, hidden, accepted=0.95)
    passed = (top >= tau_top) & (hidden >= tau_hidden)
    assert 0.95 <= passed.mean() <= 0.951
    assert np.mean(top >= tau_top) == pytest.approx(np.mean(hidden >= tau_hidden), abs=0.001)
    # two tests pass fewer than one: each alone is stricter than the single threshold's
    assert tau_top < np.quantile(top, 0.05) and tau_hidden < np.quantile(hidden, 0.05)
    # the loosest pair: raising either threshold to the next score loses the 95 %
    stricter_top = np.min(top[top > tau_top])
    assert np.mean((top >= stricter_top) & (hidden >= tau_hidden)) < 0.95 or \
        np.mean(top >= stricter_top) < np.mean(hidden >= tau_hidden)
    with pytest.raises(DataError, match="scores"):
        digit_thresholds(top, hidden[:10])


def test_a_hidden_layer_test_is_fitted_saved_and_decides_with_the_threshold(tmp_path):
    from digitlab.calibration import CHECK_RIDGE, calibrate, hidden_activations
    from digitlab.mahalanobis import fit_class_gaussians
    from digitlab.modelio import load_model, save_model
    from digitlab.nn.network import MLP

    rng = np.random.default_rng(5)
    network = MLP([6, 5, 3], ["tanh", "softmax"], bias=True, dtype=np.float64, rng=rng)
    train_x, train_y = rng.random((400, 6)), rng.integers(0, 3, 400)
    images, labels = rng.random((300, 6)), rng.integers(0, 3, 300)
    calibration = calibrate(network, images, labels, with_threshold=True,
                            training_digits=(train_x, train_y))
    hidden = calibration.hidden
    assert hidden is not None and hidden.layer == 1
    # the relative score: class Gaussians less the background Gaussian of all digits
    gaussians = fit_class_gaussians(network.forward(train_x).ys[1], train_y, ridge=CHECK_RIDGE,
                                    relative=True)
    for name in ("means", "precision", "background_mean", "background_precision"):
        np.testing.assert_allclose(getattr(hidden.gaussians, name), getattr(gaussians, name),
                                   rtol=1e-5, atol=1e-6)
    path = save_model(tmp_path / "model.npz", network,
                      extra={"calibration": calibration.to_dict()},
                      extra_arrays=calibration.arrays())
    saved = load_model(path)
    loaded = saved.calibration.hidden
    assert (saved.calibration.threshold, loaded.threshold) == (calibration.threshold,
                                                               hidden.threshold)
    assert loaded.gaussians == hidden.gaussians  # stored rounded as fitted
    # "a digit" = both tests pass; inputs far outside [0, 1] fail the hidden one however sure
    queries = np.concatenate([rng.random((200, 6)), 6.0 * rng.standard_normal((200, 6))])
    top = saved.model.probabilities(queries).max(axis=1)
    scores = loaded.gaussians.score(hidden_activations(network, queries))
    expected = (top >= calibration.threshold) & (scores >= loaded.threshold)
    np.testing.assert_array_equal(saved.model.is_digit(queries), expected)
    # the probabilities shown: softmax(s / (T h)), h from how digit-like the hidden layer is
    assert loaded.reference is not None and len(loaded.reference) == len(images)
    logits, features = network.forward(queries).zs[-1], hidden_activations(network, queries)
    np.testing.assert_allclose(
        saved.model.probabilities(queries),
        softmax(logits / loaded.flattening(features)[:, None], calibration.temperature),
        rtol=1e-6, atol=1e-9)
    sure_but_strange = (top >= calibration.threshold) & (scores < loaded.threshold)
    assert sure_but_strange[200:].sum() > 0 and not saved.model.is_digit(queries)[
        200:][sure_but_strange[200:]].any()
    # the arrays belong with the fields: a file without them is refused, naming it
    bare = save_model(tmp_path / "bare.npz", network,
                      extra={"calibration": calibration.to_dict()})
    with pytest.raises(ModelFileError, match=r"bare\.npz: calibration has a hidden-layer test "
                                             r"but no arrays"):
        load_model(bare)


def test_answers_unlike_any_real_digit_are_flattened_and_typical_ones_kept():
    """softmax(s / (T h)) with h = max(1, q / r): 1 where the hidden layer looks at least as
    digit-like as all but q of the calibration digits, larger the less digit-like."""
    from digitlab.calibration import FLATTEN_BELOW, HiddenCheck
    from digitlab.mahalanobis import ClassGaussians

    rng = np.random.default_rng(6)
    gaussians = ClassGaussians(rng.normal(size=(3, 4)), np.eye(4))
    reference = np.sort(gaussians.score(gaussians.means[rng.integers(0, 3, 200)]
                                        + 0.5 * rng.normal(size=(200, 4))))
    check = HiddenCheck(gaussians, threshold=float(reference[10]), reference=reference)
    calibration = Calibration(temperature=0.8, threshold=0.5, hidden=check)
    typical = gaussians.means  # score 0: more digit-like than every calibration digit
    strange = gaussians.means + 40.0  # far from every class: less than all of them
    np.testing.assert_array_equal(check.typicality(typical), 1.0)
    np.testing.assert_array_equal(check.flattening(typical), 1.0)
    np.testing.assert_allclose(check.flattening(strange), FLATTEN_BELOW * len(reference))
    logits = rng.normal(size=(3, 5)) * 4
    np.testing.assert_allclose(calibration.apply(logits, typical), softmax(logits, 0.8))
    flat = calibration.apply(logits, strange)
    np.testing.assert_allclose(flat, softmax(logits / (FLATTEN_BELOW * 200), 0.8))
    assert np.all(flat.max(axis=1) < softmax(logits, 0.8).max(axis=1))
    np.testing.assert_array_equal(flat.argmax(axis=1), logits.argmax(axis=1))  # same digit
    just_below = check.typicality(np.atleast_2d(gaussians.means[0] + 0.0))  # r = 1 here, and
    assert just_below[0] == 1.0  # 5 of 200 below: h = q / (5 / 200)
    np.testing.assert_allclose(check.flattening_of_typicality(np.array([5 / 200, 0.5])),
                               [FLATTEN_BELOW * 40, 1.0])
    with pytest.raises(ConfigError, match="hidden layer"):
        calibration.apply(logits)  # the activations are needed
    assert Calibration(temperature=0.8).apply(logits).shape == (3, 5)  # and not otherwise


def test_the_flattened_share_is_chosen_kept_in_the_model_file_and_zero_turns_it_off(tmp_path):
    """q (``flatten_below``) sets how much is flattened: 0 leaves softmax(s / T) everywhere, a
    larger q never makes an answer surer; the model file keeps q, and a file written before q
    could be chosen reads as the 3 % it then always was."""
    from digitlab.calibration import FIRST_FLATTEN_BELOW, calibrate, hidden_activations
    from digitlab.modelio import load_model, save_model
    from digitlab.nn.network import MLP

    rng = np.random.default_rng(7)
    network = MLP([6, 5, 3], ["tanh", "softmax"], bias=True, dtype=np.float64, rng=rng)
    train = rng.random((400, 6)), rng.integers(0, 3, 400)
    images, labels = rng.random((300, 6)), rng.integers(0, 3, 300)
    queries = np.concatenate([rng.random((100, 6)), 3.0 * rng.standard_normal((100, 6))])
    logits, features = network.forward(queries).zs[-1], hidden_activations(network, queries)
    tops = {}
    for q in (0.0, 0.03, 0.2):
        calibration = calibrate(network, images, labels, with_threshold=True,
                                training_digits=train, flatten_below=q)
        assert calibration.hidden.flatten_below == q
        path = save_model(tmp_path / f"q{q}.npz", network,
                          extra={"calibration": calibration.to_dict()},
                          extra_arrays=calibration.arrays())
        loaded = load_model(path).calibration
        assert loaded.hidden == calibration.hidden  # q included
        probabilities = loaded.apply(logits, features)
        tops[q] = probabilities.max(axis=1)
        if q == 0.0:
            np.testing.assert_allclose(probabilities, softmax(logits, calibration.temperature))
    assert np.all(tops[0.03] <= tops[0.0] + 1e-12) and np.all(tops[0.2] <= tops[0.03] + 1e-12)
    assert np.sum(tops[0.2] < tops[0.03] - 1e-6) > 0  # and some answers do change
    # a file from before q was stored flattened below the 3 % it then always was
    older = calibration.to_dict()
    del older["flatten_below"]
    assert Calibration.from_dict(older, calibration.arrays()).hidden.flatten_below == \
        FIRST_FLATTEN_BELOW == 0.03


def test_a_file_without_the_background_gaussian_scores_the_plain_distance_and_half_is_refused():
    """Files written before the relative score existed keep scoring M; a file with one of the
    background arrays but not the other, or of the wrong shape, is refused in one line."""
    from digitlab.calibration import BACKGROUND_ARRAYS, calibrate, hidden_activations
    from digitlab.nn.network import MLP

    rng = np.random.default_rng(11)
    network = MLP([6, 5, 3], ["tanh", "softmax"], bias=True, dtype=np.float64, rng=rng)
    train = rng.random((200, 6)), rng.integers(0, 3, 200)
    calibration = calibrate(network, rng.random((100, 6)), rng.integers(0, 3, 100),
                            with_threshold=True, training_digits=train)
    arrays = calibration.arrays()
    assert set(BACKGROUND_ARRAYS) <= set(arrays)
    older = {k: v for k, v in arrays.items() if k not in BACKGROUND_ARRAYS}
    hidden = Calibration.from_dict(calibration.to_dict(), older).hidden
    assert not hidden.gaussians.relative
    features = hidden_activations(network, rng.random((20, 6)))
    np.testing.assert_allclose(hidden.gaussians.score(features),
                               -hidden.gaussians.distances(features).min(axis=1))
    for name in BACKGROUND_ARRAYS:
        half = {k: v for k, v in arrays.items() if k != name}
        with pytest.raises(ModelFileError, match=f"calibration has the array .* but not {name}"):
            Calibration.from_dict(calibration.to_dict(), half)
    wrong = dict(arrays, digit_background_mean=np.zeros(4, np.float32))
    with pytest.raises(ModelFileError, match=r"digit_background_mean \(4,\).*expected \(5,\)"):
        Calibration.from_dict(calibration.to_dict(), wrong)


@pytest.mark.parametrize("bad", [-0.1, 0.7, "much", float("nan"), True])
def test_a_bad_flattened_share_in_a_model_file_is_refused_in_one_line(bad, tmp_path):
    from digitlab.calibration import calibrate
    from digitlab.nn.network import MLP

    rng = np.random.default_rng(8)
    network = MLP([6, 5, 3], ["tanh", "softmax"], bias=True, dtype=np.float64, rng=rng)
    calibration = calibrate(network, rng.random((60, 6)), rng.integers(0, 3, 60),
                            with_threshold=True,
                            training_digits=(rng.random((90, 6)), rng.integers(0, 3, 90)))
    data = {**calibration.to_dict(), "flatten_below": bad}
    with pytest.raises(ModelFileError, match=r"^calibration flatten_below must be a number in "
                                             r"\[0, 0\.5\], got") as error:
        Calibration.from_dict(data, calibration.arrays())
    assert "\n" not in str(error.value)


@pytest.mark.parametrize("bad", [-0.01, 0.51])
def test_the_training_option_refuses_a_share_outside_zero_to_a_half(bad):
    from digitlab.config import TrainConfig

    with pytest.raises(ConfigError, match="flatten_below"):
        TrainConfig(flatten_below=bad)


def test_the_studys_flattening_tradeoff_recomputes_the_answers_at_each_share():
    """flattening_tradeoff: at q = 0 the ECE of softmax(s / T) itself; a larger q never makes
    a median surer; nothing for a model whose answers are never flattened."""
    from digitlab.calibration import Calibrated, calibrate, expected_calibration_error
    from digitlab.studies.honesty import flattening_tradeoff

    rng = np.random.default_rng(9)
    network = MLP([6, 5, 3], ["tanh", "softmax"], bias=True, dtype=np.float64, rng=rng)
    calibration = calibrate(network, rng.random((300, 6)), rng.integers(0, 3, 300),
                            with_threshold=True,
                            training_digits=(rng.random((400, 6)), rng.integers(0, 3, 400)))
    test_x, test_y = rng.random((200, 6)), rng.integers(0, 3, 200)
    odd = {"far": 3.0 * rng.standard_normal((100, 6)), "near": rng.random((100, 6))}
    rows = flattening_tradeoff(Calibrated(network, calibration), test_x, test_y, odd,
                               (0.0, 0.03, 0.2))
    assert [row["flatten_below"] for row in rows] == [0.0, 0.03, 0.2]
    plain = softmax(network_logits(network, test_x), calibration.temperature)
    assert rows[0]["ece"] == pytest.approx(expected_calibration_error(plain, test_y))
    for kind in odd:
        medians = [row["median_top"][kind] for row in rows]
        assert medians == sorted(medians, reverse=True)
    assert rows[2]["median_top"]["far"] < rows[0]["median_top"]["far"]
    unflattened = Calibration(temperature=calibration.temperature)
    assert flattening_tradeoff(Calibrated(network, unflattened), test_x, test_y, odd) is None
    assert flattening_tradeoff(network, test_x, test_y, odd) is None
