"""Training: equation (2) per sample, determinism, resume, divergence, and what it learns."""

import hashlib
import itertools
import json
import time
import types

import numpy as np
import pytest

import digitlab.training as train_module
from digitlab.config import TrainConfig, preset
from digitlab.errors import ConfigError, TrainingDiverged
from digitlab.evaluation import evaluate
from digitlab.modelio import MODEL_FILE, load_model
from digitlab.training import build_network, epoch_order, train

SMALL = dict(hidden=[16], epochs=3, trace_every=50, max_train_samples=120)


def synthetic_dataset(n_train=120, n_test=40, seed=0):
    """Ten noisy prototypes, one per digit: learnable in a few epochs by a small network."""
    rng = np.random.default_rng(seed)
    prototypes = rng.uniform(0, 1, (10, 784))

    def split(n):
        labels = np.arange(n) % 10
        images = np.clip(prototypes[labels] + rng.normal(0, 0.3, (n, 784)), 0, 1)
        return types.SimpleNamespace(images=images.astype(np.float32), labels=labels)

    return types.SimpleNamespace(train=split(n_train), test=split(n_test), validation=None)


@pytest.fixture(scope="module")
def data():
    return synthetic_dataset()


@pytest.fixture(scope="module")
def mnist_sample():
    from digitlab.data import load_dataset

    return load_dataset("mnist-sample")


def digest(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


# ------------------------------------------------------------------ equation (2)
def test_training_with_batch_1_is_the_per_sample_update_of_equation_2(data):
    """train() on 5 samples against an independent NumPy loop of equations (1) and (2)."""
    config = TrainConfig(hidden=[3], epochs=2, lr=0.05, dtype="float64", max_train_samples=5)
    result = train(config, data, progress=False)

    net = build_network(config)
    weights = [w.astype(np.float64).copy() for w in net.weights]
    x_all = data.train.images[:5].astype(np.float64)
    t_all = np.where(np.arange(10) == data.train.labels[:5, None], 1.0, -1.0)  # ±1 targets
    for epoch in range(2):
        for i in epoch_order(config.seed, epoch, 5):
            y0 = x_all[i]
            y1 = np.tanh(weights[0] @ y0)
            y2 = np.tanh(weights[1] @ y1)
            delta1 = -(y2 - t_all[i]) * (1 - y2**2)  # equation (1), output layer
            delta0 = (delta1 @ weights[1]) * (1 - y1**2)  # equation (1), hidden layer
            weights[1] += config.lr * np.outer(delta1, y1)  # equation (2)
            weights[0] += config.lr * np.outer(delta0, y0)
    for trained, expected in zip(result.network.weights, weights, strict=True):
        np.testing.assert_allclose(trained, expected, rtol=1e-12, atol=1e-14)
    assert not np.allclose(result.network.weights[0], net.weights[0])  # it did move


# ------------------------------------------------------------------ determinism
def test_same_seed_gives_bit_identical_weights(data):
    config = TrainConfig(**SMALL, batch_size=4, optimizer="adam", lr=0.003)
    a = train(config, data, progress=False)
    b = train(config, data, progress=False)
    np.testing.assert_array_equal(a.network.params, b.network.params)
    assert a.history.trace == b.history.trace
    c = train(config.replace(seed=1), data, progress=False)
    assert not np.array_equal(a.network.params, c.network.params)


def test_history_has_epochs_and_trace(data):
    result = train(TrainConfig(**SMALL), data, progress=False)
    assert result.status == "completed"
    assert result.history.column("epoch") == [1, 2, 3]
    assert result.history.trace[-1]["samples"] == 3 * 120
    assert len(result.history.trace) == 3 * 2  # 50 and 120: the last 20 join the 2nd window
    assert all(0 <= r["test_accuracy"] <= 1 for r in result.history.epochs)



def test_on_progress_sees_each_trace_point_as_it_is_added(data):
    seen = []
    result = train(TrainConfig(**SMALL), data, progress=False,
                   on_progress=lambda point: seen.append(dict(point)))
    assert seen == result.history.trace and len(seen) == 3 * 2


# ------------------------------------------------------------------ resume
OPTIMIZER_CONFIGS = {
    "sgd-nesterov": dict(optimizer="sgd", lr=0.01, momentum=0.9, nesterov=True, batch_size=8),
    "adam": dict(optimizer="adam", lr=0.002, batch_size=8, weight_decay=1e-4, bias=True),
}


def assert_same_state(a, b):
    np.testing.assert_array_equal(a.network.params, b.network.params)
    state_a, state_b = a.optimizer.state_dict(), b.optimizer.state_dict()
    assert sorted(state_a) == sorted(state_b) and state_a
    for name in state_a:
        np.testing.assert_array_equal(state_a[name], state_b[name])


def without_seconds(records):
    return [{k: v for k, v in r.items() if k != "seconds"} for r in records]


@pytest.mark.parametrize("name", sorted(OPTIMIZER_CONFIGS))
def test_resume_after_a_shorter_run_is_bit_identical(tmp_path, data, name):
    config = TrainConfig(**SMALL, **OPTIMIZER_CONFIGS[name])
    whole = train(config, data, run_dir=tmp_path / "whole", progress=False)

    train(config.replace(epochs=1), data, run_dir=tmp_path / "split", progress=False)
    resumed = train(config, data, run_dir=tmp_path / "split", resume=True, progress=False)

    assert_same_state(whole, resumed)
    assert without_seconds(resumed.history.epochs) == without_seconds(whole.history.epochs)
    assert resumed.history.trace == whole.history.trace
    saved = load_model(tmp_path / "split")
    np.testing.assert_array_equal(saved.network.params, whole.network.params)


def hook_learning_rate(monkeypatch, action):
    """Call ``action(call_number, lr)`` for the learning rate of every update train() makes.

    train() asks :func:`learning_rate` once per update, whatever the optimizer, so this is where
    a Ctrl-C (KeyboardInterrupt) or a broken update can be injected at a chosen batch.
    """
    real = train_module.learning_rate
    calls = itertools.count(1)

    def patched(*args, **kwargs):
        return action(next(calls), real(*args, **kwargs))

    monkeypatch.setattr(train_module, "learning_rate", patched)


def interrupt_at(update, monkeypatch):
    """Ctrl-C just before the ``update``-th update."""

    def action(call, lr):
        if call == update:
            raise KeyboardInterrupt
        return lr

    hook_learning_rate(monkeypatch, action)


@pytest.mark.parametrize("name", sorted(OPTIMIZER_CONFIGS))
def test_ctrl_c_keeps_last_epoch_and_resume_is_bit_identical(tmp_path, data, name, monkeypatch):
    config = TrainConfig(**SMALL, **OPTIMIZER_CONFIGS[name])
    whole = train(config, data, run_dir=tmp_path / "whole", progress=False)
    after_one = train(config.replace(epochs=1), data, progress=False)

    steps_per_epoch = 120 // 8
    with monkeypatch.context() as patch:
        interrupt_at(steps_per_epoch + 5, patch)  # in the middle of epoch 2
        stopped = train(config, data, run_dir=tmp_path / "cut", progress=False)
    assert stopped.status == "interrupted"
    assert len(stopped.history.epochs) == 1
    assert_same_state(stopped, after_one)  # the half-done epoch 2 was rolled back
    np.testing.assert_array_equal(load_model(tmp_path / "cut").network.params,
                                  after_one.network.params)

    resumed = train(config, data, run_dir=tmp_path / "cut", resume=True, progress=False)
    assert resumed.status == "completed"
    assert_same_state(whole, resumed)
    assert resumed.history.trace == whole.history.trace


def test_interrupted_history_holds_only_completed_epochs(data, monkeypatch):
    config = TrainConfig(**SMALL, batch_size=8)
    interrupt_at(120 // 8 + 14, monkeypatch)  # after trace points at 50 and 100 of epoch 2
    stopped = train(config, data, progress=False)
    assert stopped.status == "interrupted"
    assert stopped.history.trace[-1]["samples"] == 120  # the end of epoch 1


def test_resume_refuses_a_changed_config(tmp_path, data):
    config = TrainConfig(**SMALL)
    train(config.replace(epochs=1), data, run_dir=tmp_path, progress=False)
    with pytest.raises(ConfigError, match="lr"):
        train(config.replace(lr=0.5), data, run_dir=tmp_path, resume=True, progress=False)


# ------------------------------------------------------------------ divergence
def test_divergence_names_epoch_and_batch_and_saves_nothing(tmp_path, data):
    config = TrainConfig(hidden=[16], output_activation="linear", lr=10.0, epochs=2,
                         max_train_samples=120)
    with np.errstate(over="ignore", invalid="ignore"), \
            pytest.raises(TrainingDiverged, match=r"epoch 1, batch \d+ of 120"):
        train(config, data, run_dir=tmp_path, progress=False)
    assert not (tmp_path / MODEL_FILE).exists()


def test_softmax_ce_with_a_huge_learning_rate_diverges(data):
    config = preset("report").replace(hidden=[16], optimizer="sgd", lr=1e8, epochs=1,
                                      max_train_samples=120)
    with np.errstate(over="ignore", invalid="ignore"), \
            pytest.raises(TrainingDiverged, match=r"epoch 1, batch \d+"):
        train(config, data, progress=False)


def test_divergence_in_epoch_2_leaves_the_epoch_1_checkpoint_untouched(tmp_path, data,
                                                                        monkeypatch):
    """From the 3rd update of epoch 2 on, the learning rate is NaN, so the weights become NaN."""
    config = TrainConfig(**SMALL, batch_size=8)
    steps_per_epoch = 120 // 8
    hook_learning_rate(
        monkeypatch, lambda call, lr: float("nan") if call >= steps_per_epoch + 3 else lr
    )
    files = ("model.npz", "config.json", "history.json", "history.csv", "trace.csv")
    after_epoch_1 = {}

    def remember(record):
        if record["epoch"] == 1:
            after_epoch_1.update({name: digest(tmp_path / name) for name in files})

    with np.errstate(invalid="ignore"), \
            pytest.raises(TrainingDiverged, match=r"epoch 2, batch 4 of 15"):
        train(config, data, run_dir=tmp_path, progress=False, on_epoch_end=remember)
    assert len(after_epoch_1) == len(files)
    assert {name: digest(tmp_path / name) for name in files} == after_epoch_1
    assert load_model(tmp_path).metadata["epoch"] == 1


# ------------------------------------------------------------------ behaviour on real digits
@pytest.mark.slow
def test_assignment_preset_one_epoch_reads_78_percent(mnist_sample):
    start = time.perf_counter()
    result = train(preset("assignment").replace(epochs=1), mnist_sample, progress=False)
    seconds = time.perf_counter() - start
    accuracy = result.history.final["test_accuracy"]
    print(f"assignment, 1 epoch: test accuracy {accuracy:.2%} in {seconds:.1f} s")
    assert accuracy >= 0.78


@pytest.mark.slow
def test_report_preset_one_epoch_reads_91_percent(mnist_sample):
    start = time.perf_counter()  # one epoch read 92.4 % of the held-out digits (seed 0)
    result = train(preset("report").replace(epochs=1), mnist_sample, progress=False)
    seconds = time.perf_counter() - start
    accuracy = result.history.final["test_accuracy"]
    print(f"report, 1 epoch: test accuracy {accuracy:.2%} in {seconds:.1f} s")
    assert accuracy >= 0.91


# ------------------------------------------------------------------ evaluation and curves
def test_evaluate_counts_rows_as_true_digits(data):
    from digitlab.evaluation import evaluate

    result = train(TrainConfig(**SMALL), data, progress=False)
    test = data.test
    evaluation = evaluate(result.network, test.images, test.labels, "mse")
    predictions = result.network.classify(test.images)
    np.testing.assert_array_equal(evaluation.predictions, predictions)
    for true, read in [(0, 0), (3, 5), (9, 1)]:
        expected = np.count_nonzero((test.labels == true) & (predictions == read))
        assert evaluation.confusion_matrix[true, read] == expected
    assert evaluation.accuracy == pytest.approx(np.mean(predictions == test.labels))
    assert evaluation.accuracy == pytest.approx(result.history.final["test_accuracy"])
    assert evaluation.mean_loss == pytest.approx(result.history.final["test_loss"], rel=1e-6)
    per_digit = [np.mean(predictions[test.labels == d] == d) for d in range(10)]
    np.testing.assert_allclose(evaluation.per_digit_accuracy, per_digit)
    np.testing.assert_allclose(evaluation.probabilities.sum(axis=1), 1.0, rtol=1e-5)
    record = evaluation.to_dict()
    assert {"accuracy", "n", "confusion_matrix", "mean_loss", "per_digit_accuracy"} <= set(record)
    assert record["n"] == len(test.labels)


def test_trace_windows_have_no_short_tail(data):
    """Each trace point averages about trace_every samples; an epoch's remainder shorter than
    half a window joins the last window instead of forming a noisy window of its own."""
    config = TrainConfig(**{**SMALL, "trace_every": 50})  # epochs of 120 samples
    result = train(config, data, progress=False)
    samples = [0] + [p["samples"] for p in result.history.trace]
    windows = np.diff(samples)
    assert windows.min() >= 25 and windows.max() < 75
    ends = [p for p in result.history.trace if float(p["epoch"]).is_integer()]
    assert len(ends) == config.epochs


def test_training_curves_figure(tmp_path, data):
    from PIL import Image

    from digitlab.plots.training import plot_training_curves

    result = train(TrainConfig(**SMALL), data, progress=False)
    path = plot_training_curves(result.history.epochs, result.history.trace,
                                tmp_path / "curves.png", title="small")
    with Image.open(path) as image:
        assert image.format == "PNG" and image.width > 800
        pixels = np.asarray(image.convert("L"))
    assert pixels.std() > 10  # not a blank canvas


# ------------------------------------------------------------------ early stopping
@pytest.fixture(scope="module")
def overfitting_data():
    """Validation images whose labels are shuffled: the more the network learns, the worse its
    validation loss, so early stopping must trigger and go back to an early epoch."""
    data = synthetic_dataset(seed=3)
    rng = np.random.default_rng(4)
    validation = synthetic_dataset(n_train=40, seed=3).train
    validation.labels = rng.permutation(validation.labels)
    data.validation = validation
    return data


EARLY = dict(SMALL, epochs=12, early_stopping=2, validation_fraction=0.1, optimizer="adam",
             lr=0.01, batch_size=8)


def test_early_stopping_restores_the_best_weights(overfitting_data):
    from digitlab.nn import get_loss

    result = train(TrainConfig(**EARLY), overfitting_data, progress=False)
    assert result.status == "early_stopping"
    losses = result.history.column("validation_loss")
    best = int(np.argmin(losses))
    assert len(losses) == best + 1 + EARLY["early_stopping"]  # stopped after `patience` epochs
    assert result.history.epochs[-1]["restored_best_epoch"] == best + 1
    validation = overfitting_data.validation
    now = evaluate(result.network, validation.images, validation.labels,
                   get_loss(result.config.loss)).mean_loss
    assert now == pytest.approx(losses[best], rel=1e-6)  # the weights are those of the best epoch


def test_resumed_early_stopping_still_returns_to_the_best_epoch(tmp_path, overfitting_data):
    config = TrainConfig(**EARLY)
    whole = train(config, overfitting_data, run_dir=tmp_path / "whole", progress=False)
    stopped_after = len(whole.history.epochs)
    best_epoch = whole.history.epochs[-1]["restored_best_epoch"]
    assert stopped_after - best_epoch >= 2
    # interrupt the run after the best epoch but before it stopped, then resume it
    train(config.replace(epochs=best_epoch + 1), overfitting_data, run_dir=tmp_path / "split",
          progress=False)
    resumed = train(config, overfitting_data, run_dir=tmp_path / "split", resume=True,
                    progress=False)
    assert resumed.status == "early_stopping"
    np.testing.assert_array_equal(resumed.network.params, whole.network.params)


def test_the_library_train_writes_what_a_run_folder_holds(tmp_path, data):
    """train() itself, not only the command, leaves curves.png and evaluation.json."""
    from PIL import Image

    result = train(TrainConfig(**SMALL), data, run_dir=tmp_path, progress=False)
    for name in ("model.npz", "config.json", "history.json", "trace.csv", "curves.png",
                 "evaluation.json"):
        assert (tmp_path / name).is_file(), name
    with Image.open(tmp_path / "curves.png") as image:
        assert image.format == "PNG"
    saved = json.loads((tmp_path / "evaluation.json").read_text())
    assert saved["n"] == len(data.test.labels) == result.evaluation.n
    assert saved["accuracy"] == pytest.approx(result.history.final["test_accuracy"])


def test_training_threads_follow_the_blas_pools_not_openmp(monkeypatch):
    """The compiled kernels load an OpenMP runtime with a thread per core; a BLAS limited to
    one thread (a study's worker, OPENBLAS_NUM_THREADS=1) still means one training thread."""
    from digitlab.nn import engines
    pools = [{"user_api": "openmp", "num_threads": 8}, {"user_api": "blas", "num_threads": 1}]
    monkeypatch.setattr(engines, "threadpool_info", lambda: pools)
    monkeypatch.setattr(engines, "available_cores", lambda: 8)
    config = preset("report")
    assert engines.training_threads(config) == 1
    pools[1]["num_threads"] = 4
    assert engines.training_threads(config) == 4


#: every option that carries state from one epoch to the next: early stopping (its best epoch
#: and weights), momentum, dropout, augmentation, a schedule over the epochs, an attack, outlier
#: exposure and its mining, label smoothing, max-norm and a calibration share
STATEFUL = dict(hidden=[12], epochs=10, trace_every=50, max_train_samples=120, batch_size=8,
                early_stopping=2, validation_fraction=0.1, optimizer="sgd", lr=0.05,
                momentum=0.9, nesterov=True, weight_decay=1e-4, schedule="cosine",
                loss="ce", output_activation="softmax", label_smoothing=0.05, dropout=[0.2],
                max_norm=4.0, augment_rotation=8.0, augment_shift=1.0, attack="fgsm",
                attack_epsilon=0.1, outlier_exposure=0.5, outlier_mining=0.5,
                calibration_fraction=0.1)


def test_resume_from_every_epoch_boundary_is_bit_identical_with_every_stateful_option(
        tmp_path, overfitting_data, monkeypatch):
    """Stopped after each epoch (Ctrl-C at the first update of the next; a kill leaves the same
    checkpoint) and resumed, the run ends as the uninterrupted one: same status, epochs and
    weights, bit for bit. After the epoch at which it stopped early, a resume trains no more."""
    config = TrainConfig(**STATEFUL)
    whole = train(config, overfitting_data, run_dir=tmp_path / "whole", progress=False)
    assert whole.status == "early_stopping"
    done = len(whole.history.epochs)
    assert done < config.epochs and whole.history.epochs[-1]["restored_best_epoch"] < done
    updates = []
    with monkeypatch.context() as patch:  # updates per epoch (the calibration share is held out)
        hook_learning_rate(patch, lambda call, lr: updates.append(call) or lr)
        train(config.replace(epochs=1), overfitting_data, progress=False)
    steps = len(updates)
    for boundary in range(1, done + 1):
        folder = tmp_path / f"cut-{boundary}"
        with monkeypatch.context() as patch:
            interrupt_at(boundary * steps + 1, patch)  # the first update after the boundary
            stopped = train(config, overfitting_data, run_dir=folder, progress=False)
        assert len(stopped.history.epochs) == boundary
        assert stopped.status == ("interrupted" if boundary < done else "early_stopping")
        resumed = train(config, overfitting_data, run_dir=folder, resume=True, progress=False)
        assert resumed.status == "early_stopping", boundary
        assert without_seconds(resumed.history.epochs) == \
            without_seconds(whole.history.epochs), boundary
        np.testing.assert_array_equal(resumed.network.params, whole.network.params)
        np.testing.assert_array_equal(load_model(folder).network.params, whole.network.params)


def test_results_of_a_replaced_or_resumed_run_go_when_its_first_epoch_is_saved(
        tmp_path, data, monkeypatch):
    """--overwrite keeps the old run whole until the new one saves an epoch; a resumed run whose
    final results cannot be written leaves none that describe an earlier epoch."""
    config = TrainConfig(**SMALL, batch_size=8)
    train(config.replace(epochs=1), data, run_dir=tmp_path, progress=False)
    old = {name: (tmp_path / name).read_bytes()
           for name in ("model.npz", "curves.png", "evaluation.json")}
    with monkeypatch.context() as patch:
        interrupt_at(1, patch)  # Ctrl-C before the new run's first update
        stopped = train(config, data, run_dir=tmp_path, overwrite=True, progress=False)
    assert stopped.status == "interrupted"
    assert {name: (tmp_path / name).read_bytes() for name in old} == old

    def full_disk(*args, **kwargs):
        raise OSError(28, "No space left on device", str(tmp_path / "curves.png"))

    monkeypatch.setattr(train_module, "write_run_results", full_disk)
    with pytest.raises(OSError, match="No space left"):
        train(config, data, run_dir=tmp_path, resume=True, progress=False)
    assert load_model(tmp_path).metadata["epoch"] == 3
    assert not (tmp_path / "evaluation.json").exists() and not (tmp_path / "curves.png").exists()
