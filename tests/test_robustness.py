"""Adversarial training, outlier exposure and calibration inside training (digitlab.robustness):
the batch each step trains on, the engines' agreement, bit-identical resume, the calibrated
model file, and the presets and options that ask for them."""

import numpy as np
import pytest

import digitlab as dl
from digitlab.calibration import network_logits, softmax
from digitlab.config import TrainConfig, preset
from digitlab.errors import ConfigError
from digitlab.modelio import load_model
from digitlab.nn import get_loss
from digitlab.nn.network import MLP
from digitlab.robustness import RobustBatches, attack_options, mine_outliers, outlier_count
from digitlab.training import train
from test_training import assert_same_state, interrupt_at, synthetic_dataset, without_seconds

SMALL = dict(hidden=[16], activation="relu", output_activation="softmax", loss="ce",
             optimizer="adam", lr=0.003, batch_size=8, epochs=2, trace_every=50,
             max_train_samples=120, bias=True)
HONEST = dict(attack="pgd-l2", attack_epsilon=1.0, attack_steps=3, outlier_exposure=0.5,
              outlier_mining=0.5)


@pytest.fixture(scope="module")
def data():
    return synthetic_dataset()


def small_network(dtype=np.float64):
    return MLP([784, 16, 10], ["relu", "softmax"], bias=True, dtype=dtype,
               rng=np.random.default_rng(0))


# ---------------------------------------------------------------------- the batch
def test_the_digits_stay_the_first_rows_then_outliers_with_uniform_targets(data):
    config = TrainConfig(**SMALL, **HONEST)
    network, loss = small_network(), get_loss("ce")
    batches = RobustBatches(config, data.train.images.astype(np.float64))
    batches.begin_epoch(0, network)
    x = data.train.images[:8].astype(np.float64)
    t = network.targets(data.train.labels[:8], loss)
    x2, t2 = batches.batch(network, x, t, loss)
    m = outlier_count(8, 0.5)
    assert m == 4 and x2.shape == (12, 784) and t2.shape == (12, 10)
    np.testing.assert_array_equal(t2[:8], t)  # the digits keep their targets
    np.testing.assert_allclose(t2[8:], 0.1)  # outliers: the uniform answer
    moved = np.linalg.norm(x2[:8] - x, axis=1)
    assert np.all(moved[:4] > 0) and np.all(moved[:4] <= 1.0 + 1e-9)  # attacked, in the ball
    np.testing.assert_array_equal(x2[4:8], x[4:8])  # attack_mix 0.5: the rest is clean
    assert x2.min() >= 0 and x2.max() <= 1

    again = RobustBatches(config, data.train.images.astype(np.float64))
    again.begin_epoch(0, network)
    np.testing.assert_array_equal(again.batch(network, x, t, loss)[0], x2)  # from the seed
    again.begin_epoch(1, network)
    assert not np.array_equal(again.batch(network, x, t, loss)[0], x2)


def test_outlier_mining_keeps_the_outliers_the_network_is_surest_are_digits(data):
    network = small_network()
    pool = RobustBatches(TrainConfig(**SMALL, outlier_exposure=0.5),
                         data.train.images.astype(np.float64)).outliers.pool
    kept = mine_outliers(network, pool, 10, 0.25, np.random.default_rng(3))
    candidates = np.random.default_rng(3).choice(len(pool), 40, replace=False)
    top = network.probabilities(pool[candidates].astype(np.float64)).max(axis=1)
    assert len(kept) == 10 and set(kept) <= set(candidates)
    dropped = np.setdiff1d(candidates, kept)
    sure = dict(zip(candidates.tolist(), top.tolist(), strict=True))
    assert min(sure[i] for i in kept) >= max(sure[i] for i in dropped)  # the surest 10 of 40
    everything = mine_outliers(network, pool, 10 * len(pool), 0.5, np.random.default_rng(3))
    assert sorted(everything) == list(range(len(pool)))  # never more than the pool


def test_an_epoch_with_outlier_mining_draws_only_mined_outliers(data):
    config = TrainConfig(**SMALL, outlier_exposure=0.5, outlier_mining=0.5)
    network, loss = small_network(), get_loss("ce")
    batches = RobustBatches(config, data.train.images.astype(np.float64))
    with pytest.raises(ValueError, match="needs the network"):
        batches.begin_epoch(0)
    batches.begin_epoch(0, network)
    steps = -(-len(data.train.images) // 8)
    assert len(batches.mined) == batches.epoch_outliers == steps * outlier_count(8, 0.5)
    assert len(batches.outliers) >= 2 * 2 * batches.epoch_outliers  # a fresh part each epoch
    x = data.train.images[:8].astype(np.float64)
    outliers = batches.batch(network, x, network.targets(data.train.labels[:8], loss), loss)[0][8:]
    pool = batches.outliers.pool
    mined = {pool[i].tobytes() for i in batches.mined}
    assert all(row.astype(np.float32).tobytes() in mined for row in outliers)
    plain = RobustBatches(config.replace(outlier_mining=0.0), data.train.images)
    plain.begin_epoch(0)  # without mining no network is needed
    assert plain.mined is None


def test_attack_options_follow_the_config():
    assert attack_options(TrainConfig()) is None
    l2 = attack_options(TrainConfig(attack="pgd-l2"))
    assert (l2.norm, l2.epsilon, l2.steps, l2.random_start) == ("l2", 1.5, 7, True)
    linf = attack_options(TrainConfig(attack="pgd-linf", attack_steps=3, attack_step_size=0.05))
    assert (linf.norm, linf.epsilon, linf.steps, linf.alpha) == ("linf", 0.1, 3, 0.05)
    fgsm = attack_options(TrainConfig(attack="fgsm", attack_epsilon=0.2))
    assert (fgsm.norm, fgsm.steps, fgsm.alpha, fgsm.random_start) == ("linf", 1, 0.2, False)


@pytest.mark.parametrize("changes, message", [
    (dict(outlier_exposure=0.5), "outlier_exposure needs loss 'ce'"),
    (dict(attack_steps=3), "attack_steps applies to adversarial training"),
    (dict(attack="pgd-l2", attack_mix=0.0), "attack_mix must be > 0"),
    (dict(attack="pgd-l3"), "attack must be one of none, pgd-l2, pgd-linf, fgsm"),
    (dict(calibration_fraction=0.9), "calibration_fraction must be <= 0.5"),
    (dict(outlier_mining=0.5), "outlier_mining needs outlier_exposure > 0"),
    (dict(outlier_mining=1.0), "outlier_mining must be < 1"),
])
def test_bad_robustness_options_are_refused_in_one_line(changes, message):
    with pytest.raises(ConfigError, match=message) as error:
        TrainConfig(**changes)
    assert "\n" not in str(error.value)


# ---------------------------------------------------------------------- training
def test_reference_and_fused_engines_train_alike_with_attacks_and_outliers(data):
    config = TrainConfig(**{**SMALL, **HONEST, "dtype": "float64", "epochs": 1})
    reference = train(config.replace(engine="reference"), data, progress=False)
    fused_run = train(config, data, progress=False)
    np.testing.assert_allclose(fused_run.network.params, reference.network.params, atol=1e-10)
    plain = train(TrainConfig(**{**SMALL, "dtype": "float64", "epochs": 1}), data,
                  progress=False)
    assert not np.allclose(plain.network.params, fused_run.network.params)


def test_resume_with_attacks_outliers_and_calibration_is_bit_identical(tmp_path, data,
                                                                       monkeypatch):
    config = TrainConfig(**SMALL, **HONEST, calibration_fraction=0.2)
    whole = train(config, data, run_dir=tmp_path / "whole", progress=False)
    with monkeypatch.context() as patch:  # Ctrl-C in the second epoch
        interrupt_at(96 // 8 + 3, patch)
        stopped = train(config, data, run_dir=tmp_path / "cut", progress=False)
    assert stopped.status == "interrupted" and stopped.calibration is None
    resumed = train(config, data, run_dir=tmp_path / "cut", resume=True, progress=False)
    assert_same_state(whole, resumed)
    assert without_seconds(resumed.history.epochs) == without_seconds(whole.history.epochs)
    assert resumed.calibration == whole.calibration is not None


def test_calibration_holds_out_training_digits_and_lands_in_the_model_file(tmp_path, data):
    config = TrainConfig(**SMALL, outlier_exposure=0.5, calibration_fraction=0.25)
    result = train(config, data, run_dir=tmp_path / "run", progress=False)
    calibration = result.calibration
    assert calibration.fitted_on == 30  # a quarter of 120, never trained on
    assert result.history.epochs[0]["train_accuracy"] is not None
    assert calibration.threshold is not None  # outlier exposure: "not a digit" is answered
    saved = load_model(tmp_path / "run")
    assert saved.calibration == calibration
    images = data.test.images
    np.testing.assert_allclose(saved.model.probabilities(images),
                               result.model.probabilities(images), rtol=1e-6)
    p = saved.model.probabilities(images)
    np.testing.assert_allclose(p.sum(axis=1), 1, rtol=1e-5)
    np.testing.assert_array_equal(p.argmax(axis=1), saved.network.classify(images))

    without = train(TrainConfig(**SMALL, calibration_fraction=0.25), data, progress=False)
    assert without.calibration.threshold is None  # no outliers seen: no threshold chosen
    # the run's choice of the flattened share is the model file's, and 0 flattens nothing
    assert saved.calibration.hidden.flatten_below == config.flatten_below == 0.025
    flat_free = train(config.replace(flatten_below=0.0), data, run_dir=tmp_path / "flat-free",
                      progress=False)
    assert flat_free.calibration.temperature == pytest.approx(calibration.temperature, rel=1e-5)
    assert load_model(tmp_path / "flat-free").calibration.hidden.flatten_below == 0.0
    logits = network_logits(flat_free.network, images)
    np.testing.assert_allclose(flat_free.model.probabilities(images),
                               softmax(logits, calibration.temperature), rtol=1e-5)


def test_presets_robust_and_honest_are_named_alike_everywhere():
    assert {"robust", "honest"} <= set(dl.presets.names())
    robust, honest = dl.presets.robust, dl.presets.honest
    assert robust.attack == "pgd-l2" and robust.outlier_exposure == 0
    assert honest.replace(outlier_exposure=0.0, outlier_mining=0.0, calibration_fraction=0.0,
                          epochs=robust.epochs, attack_steps=robust.attack_steps) == robust
    assert preset("best").key() != robust.key()


# ---------------------------------------------------------------------- the fast tier
@pytest.mark.parametrize("kernels", ["numpy", "numba"])
@pytest.mark.parametrize("activation, output, loss_name", [
    ("relu", "softmax", "ce"), ("tanh", "tanh", "mse"), ("swish", "softmax", "mse"),
])
def test_the_engines_input_gradient_and_attack_equal_the_reference(kernels, activation, output,
                                                                    loss_name):
    from digitlab.nn import compiled
    from digitlab.nn.adversarial import AttackOptions, input_gradient, pgd
    from digitlab.nn.fused import KERNELS, FusedEngine, register_kernels

    if kernels == "numba":
        loaded = compiled.load()
        if loaded is None:
            pytest.skip("Numba is not available")
        if "numba" not in KERNELS:
            register_kernels("numba", loaded.NumbaKernels())
    rng = np.random.default_rng(4)
    network = MLP([784, 300, 40, 10], [activation, activation, output], bias=True,
                  dtype=np.float64, rng=rng)
    loss = get_loss(loss_name)
    x = rng.random((6, 784))
    t = network.targets(rng.integers(0, 10, 6), loss)
    engine = FusedEngine(threads=2, kernels=kernels)
    engine.prepare(network)
    reference_loss, reference_grad = input_gradient(network, x, t, loss)
    fast_loss, fast_grad = engine.input_gradient(network, x, t, loss)
    np.testing.assert_allclose(fast_loss, reference_loss, rtol=1e-12)
    np.testing.assert_allclose(fast_grad, reference_grad, rtol=1e-9, atol=1e-14)

    options = AttackOptions(norm="l2", epsilon=1.5, steps=4)
    slow = pgd(network, x, t, loss, options, np.random.default_rng(0))
    fast = pgd(network, x, t, loss, options, np.random.default_rng(0),
               gradient=lambda x, t: engine.input_gradient(network, x, t, loss))
    np.testing.assert_allclose(fast, slow, atol=1e-10)
