"""Training beyond the assignment: dropout, augmentation, max-norm, label smoothing, deskew."""

import numpy as np
import pytest

from digitlab.config import TrainConfig, preset
from digitlab.data import load_dataset
from digitlab.errors import ConfigError
from digitlab.modelio import load_model
from digitlab.nn import MLP, SGD, fused, get_loss
from digitlab.nn.dropout import draw_masks
from digitlab.preprocessing import Preprocessed
from digitlab.training import train
from test_gradients import EPS, relative_error
from test_training import assert_same_state, interrupt_at, synthetic_dataset, without_seconds

AUGMENTED = dict(augment_rotation=10.0, augment_scale=0.1, augment_shear=0.1, augment_shift=2.0,
                 elastic_alpha=1.5, elastic_sigma=4.0)
NOT_AUGMENTED = {name: 0.0 for name in AUGMENTED if name != "elastic_sigma"}
SMALL = dict(hidden=[16, 16], activation="relu", output_activation="softmax", loss="ce",
             optimizer="adam", lr=0.003, batch_size=8, epochs=3, trace_every=50,
             max_train_samples=120, bias=True, dropout=[0.3, 0.2], **AUGMENTED)


@pytest.fixture(scope="module")
def data():
    return synthetic_dataset()


def masked_problem(hidden):
    rng = np.random.default_rng(0)
    net = MLP([5, 6, 6, 3], [hidden, hidden, "softmax"], bias=True, dtype=np.float64,
              init="glorot", rng=rng)
    for b in net.biases:  # non-zero biases: no pre-activation sits exactly on relu's kink
        b[...] = rng.normal(0, 0.3, b.shape)
    x = rng.uniform(0, 1, (7, 5))
    masks = draw_masks([0.5, 0.3], net.sizes, 7, np.random.default_rng(1), net.dtype)
    loss = get_loss("ce")
    return net, x, net.targets(np.array([0, 1, 2, 1, 0, 2, 2]), loss), masks, loss


@pytest.mark.parametrize("hidden", ["tanh", "relu", "swish"])
def test_dropout_gradient_matches_central_differences_with_a_fixed_mask(hidden):
    net, x, t, masks, loss = masked_problem(hidden)
    assert any((m == 0).any() for m in masks[:-1])  # some units really are dropped

    def mean_loss():
        return loss.per_sample(net.forward(x, masks=masks).output, t).mean()

    net.backward(net.forward(x, masks=masks), t, loss)
    analytic = net.grads.copy()
    numeric = np.zeros_like(analytic)
    for i in range(net.params.size):
        saved = net.params[i]
        net.params[i] = saved + EPS
        plus = mean_loss()
        net.params[i] = saved - EPS
        minus = mean_loss()
        net.params[i] = saved
        numeric[i] = (plus - minus) / (2 * EPS)
    assert relative_error(analytic, numeric) < 1e-7

    # the fused paths (forward split over threads, backward + update, in-place SGD) apply the
    # same masked gradient
    for step in ("backward_update", "sgd_step"):
        stepped = net.copy()
        fp = fused.forward(stepped, x, threads=2, masks=masks)
        np.testing.assert_array_equal(fp.output, net.forward(x, masks=masks).output)
        if step == "backward_update":
            fused.backward_update(stepped, fp, t, loss, SGD(0.1), 0.1, threads=2)
        else:
            fused.sgd_step(stepped, fp, t, loss, 0.1)
        np.testing.assert_allclose(stepped.params, net.params - 0.1 * analytic, atol=1e-12)


def test_dropout_masks_are_scaled_and_evaluation_is_deterministic(data):
    masks = draw_masks([0.25], [784, 2000, 10], 50, np.random.default_rng(0), np.dtype("f4"))
    values = np.unique(masks[0])
    np.testing.assert_allclose(values, [0.0, 1 / 0.75])
    assert abs((masks[0] == 0).mean() - 0.25) < 0.01 and masks[1] is None
    assert draw_masks([0.0], [784, 20, 10], 5, np.random.default_rng(0), np.dtype("f4")) is None

    result = train(TrainConfig(**{**SMALL, "epochs": 1}), data, progress=False)
    net, x = result.network, data.test.images
    first = net.predict(x)
    np.testing.assert_array_equal(first, net.predict(x))
    np.testing.assert_array_equal(first, net.forward(x).output)  # no masks outside training


def test_resume_with_augmentation_and_dropout_is_bit_identical(tmp_path, data, monkeypatch):
    config = TrainConfig(**SMALL)
    whole = train(config, data, run_dir=tmp_path / "whole", progress=False)
    train(config.replace(epochs=1), data, run_dir=tmp_path / "split", progress=False)
    resumed = train(config, data, run_dir=tmp_path / "split", resume=True, progress=False)
    assert_same_state(whole, resumed)
    assert without_seconds(resumed.history.epochs) == without_seconds(whole.history.epochs)
    assert resumed.history.trace == whole.history.trace

    with monkeypatch.context() as patch:  # Ctrl-C while the background thread is working
        interrupt_at(120 // 8 + 5, patch)
        stopped = train(config, data, run_dir=tmp_path / "cut", progress=False)
    assert stopped.status == "interrupted"
    resumed = train(config, data, run_dir=tmp_path / "cut", resume=True, progress=False)
    assert_same_state(whole, resumed)

    other = train(config.replace(seed=1), data, progress=False)
    assert not np.array_equal(other.network.params, whole.network.params)


def test_augmentation_beats_the_same_network_without_it_on_a_small_split():
    dataset = load_dataset("mnist-sample", seed=0)
    best_like = preset("best").replace(hidden=[128], epochs=15, batch_size=32, lr=0.002,
                                       max_train_samples=1000)
    plain = best_like.replace(augment_rotation=0.0, augment_scale=0.0, augment_shear=0.0,
                              augment_shift=0.0)
    accuracy = {}
    for name, config in (("augmented", best_like), ("plain", plain)):
        result = train(config, dataset, progress=False)
        accuracy[name] = result.history.final["test_accuracy"]
    assert accuracy["augmented"] > accuracy["plain"] + 0.01, accuracy  # 91.5 % against 89.9 %


def test_max_norm_and_label_smoothing_in_training(data):
    plain = TrainConfig(**{**SMALL, "dropout": [], "label_smoothing": 0.1, **NOT_AUGMENTED})
    free = train(plain, data, progress=False)
    bounded = train(plain.replace(max_norm=1.0), data, progress=False)
    assert max(np.linalg.norm(W, axis=1).max() for W in free.network.weights) > 1.5
    for W in bounded.network.weights:  # every unit's incoming weights on or inside the ball
        assert np.linalg.norm(W, axis=1).max() <= 1.0 + 1e-5
    assert bounded.history.final["test_accuracy"] > 0.5
    with pytest.raises(ConfigError, match="label_smoothing needs loss 'ce'"):
        TrainConfig(label_smoothing=0.1)
    with pytest.raises(ConfigError, match="one per hidden layer"):
        TrainConfig(hidden=[8, 8, 8], dropout=[0.1, 0.2])


def test_a_deskewed_model_is_fed_deskewed_digits_after_loading(tmp_path):
    dataset = load_dataset("mnist-sample", seed=0)
    config = preset("report").replace(hidden=[32], epochs=1, max_train_samples=500, deskew=True)
    result = train(config, dataset, run_dir=tmp_path / "run", progress=False)
    saved = load_model(tmp_path / "run")
    assert saved.preprocessing == ["deskew"] and isinstance(saved.model, Preprocessed)
    predicted = saved.model.classify(dataset.test.images)
    accuracy = float((predicted == dataset.test.labels).mean())
    assert accuracy == pytest.approx(result.history.final["test_accuracy"])
    raw = float((saved.network.classify(dataset.test.images) == dataset.test.labels).mean())
    assert raw != accuracy  # the bare network would be fed differently


def test_reference_and_fused_engines_train_alike_with_dropout_and_max_norm(data):
    config = TrainConfig(**{**SMALL, "dtype": "float64", "epochs": 1, "max_norm": 1.5,
                            "label_smoothing": 0.1})
    reference = train(config.replace(engine="reference"), data, progress=False)
    fused_run = train(config, data, progress=False)
    np.testing.assert_allclose(fused_run.network.params, reference.network.params, atol=1e-10)
