import numpy as np
import pytest

from benchmark.accuracy.statistics import (
    bootstrap_weights,
    mean_interval,
    percentile_interval,
    wilson_interval,
)


def test_wilson_interval_against_hand_computed_values():
    # 80/100, z^2 = 3.8415: centre (0.8 + 0.019207)/1.038415 = 0.788902,
    # half-width 1.96 * sqrt(0.0016 + 0.00009604)/1.038415 = 0.077733 -> (0.7112, 0.8666)
    low, high = wilson_interval(80, 100)
    assert low == pytest.approx(0.7112, abs=1e-4) and high == pytest.approx(0.8666, abs=1e-4)
    # 0/10 stays within [0, 1]: upper bound z^2/(n+z^2) = 3.8415/13.8415 = 0.2775
    low, high = wilson_interval(0, 10)
    assert low == 0.0 and high == pytest.approx(0.2775, abs=1e-4)
    # 4/4: lower bound n/(n+z^2) = 4/7.8415 = 0.5101
    low, high = wilson_interval(4, 4)
    assert low == pytest.approx(0.5101, abs=1e-4) and high == 1.0


def test_wilson_interval_narrows_with_n():
    small, large = wilson_interval(5, 10), wilson_interval(500, 1000)
    assert small[1] - small[0] > large[1] - large[0]


def test_mean_interval_against_hand_computed_values():
    # scores 1, 1, .5, 0: mean .625, sample sd sqrt(.6875/3) = .478714,
    # half-width 1.96 * .478714 / 2 = .469131 -> (.155869, 1.094) clipped to 1
    low, high = mean_interval(np.array([1.0, 1.0, 0.5, 0.0]))
    assert low == pytest.approx(0.155869, abs=1e-5) and high == 1.0
    # 0.2, 0.4, 0.6: mean .4, sd .2, half 1.96 * .2 / sqrt(3) = .226317
    low, high = mean_interval(np.array([0.2, 0.4, 0.6]))
    assert (low, high) == (pytest.approx(0.173683, abs=1e-5), pytest.approx(0.626317, abs=1e-5))


def test_mean_interval_undefined_for_one_image_and_zero_width_for_constant_scores():
    assert all(np.isnan(mean_interval(np.array([0.7]))))
    assert mean_interval(np.full(5, 0.4)) == (pytest.approx(0.4), pytest.approx(0.4))


def test_bootstrap_weights_draw_n_images_per_resample():
    weights = bootstrap_weights(50, 300, seed=1)
    assert weights.shape == (300, 50)
    assert np.all(weights.sum(axis=1) == 50)
    assert np.array_equal(weights, bootstrap_weights(50, 300, seed=1))
    assert not np.array_equal(weights, bootstrap_weights(50, 300, seed=2))


def test_bootstrap_of_a_mean_agrees_with_the_normal_interval():
    rng = np.random.default_rng(0)
    scores = (rng.random(400) < 0.3).astype(np.float32)
    resampled = bootstrap_weights(len(scores), 4000, seed=0) @ scores / len(scores)
    low, high = percentile_interval(resampled)
    normal = mean_interval(scores)
    assert low == pytest.approx(normal[0], abs=0.01) and high == pytest.approx(normal[1], abs=0.01)


def test_percentile_interval_ignores_undefined_resamples():
    values = np.array([np.nan, *np.arange(1, 102, dtype=float), np.inf])
    low, high = percentile_interval(values)
    assert low == pytest.approx(3.5) and high == pytest.approx(98.5)
    assert all(np.isnan(percentile_interval(np.array([np.nan, np.nan]))))
