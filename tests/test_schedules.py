"""Learning-rate schedules, label smoothing and max-norm constraints."""

import math

import numpy as np
import pytest

from digitlab.errors import ConfigError
from digitlab.nn.constraints import apply_max_norm
from digitlab.nn.losses import get_loss, smooth_labels
from digitlab.nn.schedules import WARMUP_START, learning_rate


def test_warmup_rises_linearly_then_stays():
    lr = [learning_rate("warmup", 0.1, e, 10, warmup_epochs=2) for e in (0, 1, 2, 5, 10)]
    assert lr[0] == pytest.approx(0.1 * WARMUP_START)
    assert lr[1] == pytest.approx(0.1 * (WARMUP_START + 1) / 2)
    assert lr[2:] == [0.1, 0.1, 0.1]
    assert learning_rate("warmup", 0.1, 0.5, 10) == pytest.approx(0.1 * (0.04 + 0.96 * 0.5))


def test_onecycle_warms_up_then_follows_a_cosine_to_zero():
    total = 10
    peak_at = 0.3 * total  # default warm-up: 30 % of the run
    assert learning_rate("onecycle", 1.0, 0, total) == pytest.approx(WARMUP_START)
    assert learning_rate("onecycle", 1.0, peak_at, total) == pytest.approx(1.0)
    middle = peak_at + (total - peak_at) / 2
    assert learning_rate("onecycle", 1.0, middle, total) == pytest.approx(0.5)
    assert learning_rate("onecycle", 1.0, total, total) == pytest.approx(0.0, abs=1e-12)
    rising = [learning_rate("onecycle", 1.0, e, total) for e in np.linspace(0, peak_at, 7)]
    falling = [learning_rate("onecycle", 1.0, e, total) for e in np.linspace(peak_at, 10, 7)]
    assert np.all(np.diff(rising) > 0) and np.all(np.diff(falling) < 0)
    assert learning_rate("onecycle", 1.0, 1.0, 10, warmup_epochs=1.0) == pytest.approx(1.0)


def test_existing_schedules_are_unchanged():
    assert learning_rate("constant", 0.1, 7.3, 10) == 0.1
    assert learning_rate("step", 0.1, 5.0, 10) == pytest.approx(0.01)
    assert learning_rate("cosine", 0.1, 5.0, 10) == pytest.approx(0.05)
    with pytest.raises(ConfigError, match="unknown schedule"):
        learning_rate("triangle", 0.1, 0, 10)


def test_label_smoothing_spreads_epsilon_and_keeps_a_distribution():
    loss = get_loss("ce")
    t = loss.targets(np.array([3, 0]), 10, 0.0, np.float32)
    smooth = smooth_labels(t, 0.1)
    np.testing.assert_allclose(smooth.sum(axis=1), 1.0, rtol=1e-6)
    assert smooth[0, 3] == pytest.approx(0.91) and smooth[0, 0] == pytest.approx(0.01)
    assert smooth_labels(t, 0.0) is t
    # the smoothed loss is smallest when the output equals the smoothed targets
    best = loss.per_sample(smooth, smooth)[0]
    assert best < loss.per_sample(t + 1e-9, smooth)[0]
    assert best == pytest.approx(-(0.91 * math.log(0.91) + 9 * 0.01 * math.log(0.01)), rel=1e-5)


def test_max_norm_rescales_only_the_rows_that_are_too_long():
    W = np.array([[3.0, 4.0], [0.3, 0.4], [0.0, 0.0]])
    V = np.array([[6.0, 8.0, 0.0]])
    apply_max_norm([W, V], 2.0)
    np.testing.assert_allclose(W, [[1.2, 1.6], [0.3, 0.4], [0.0, 0.0]])
    np.testing.assert_allclose(np.linalg.norm(V, axis=1), [2.0])
