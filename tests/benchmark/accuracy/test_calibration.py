import math

import numpy as np
import pytest

from benchmark.accuracy.calibration import (
    bin_of,
    calibrate_cells,
    expected_calibration_error,
    negative_log_likelihood,
    reliability,
)


def naive_ece(confidence, correct, bins=15):
    """The definition, one answer and one bin at a time."""
    total, n = 0.0, len(confidence)
    for k in range(bins):
        low, high = k / bins, (k + 1) / bins
        members = [i for i in range(n) if (low < confidence[i] <= high) or (k == 0 and confidence[i] == 0)]
        if members:
            accuracy = sum(correct[i] for i in members) / len(members)
            mean_conf = sum(confidence[i] for i in members) / len(members)
            total += len(members) / n * abs(accuracy - mean_conf)
    return total


def test_ece_by_hand():
    # two bins used: (0.8667, 0.9333] holds 0.9, 0.9 (one right) and (0.5333, 0.6] holds 0.55, 0.6 (both right)
    confidence = np.array([0.9, 0.9, 0.55, 0.6])
    correct = np.array([1, 0, 1, 1])
    expected = 0.5 * abs(0.5 - 0.9) + 0.5 * abs(1.0 - 0.575)
    assert expected_calibration_error(confidence, correct) == pytest.approx(expected)
    assert expected_calibration_error(np.full(10, 0.9), np.r_[np.ones(5), np.zeros(5)]) == pytest.approx(0.4)
    assert expected_calibration_error(np.array([1.0, 1.0]), np.array([1, 1])) == 0.0


def test_bin_edges_are_right_closed():
    assert list(bin_of(np.array([0.0, 1 / 15, 1 / 15 + 1e-9, 0.5, 1.0]))) == [0, 0, 1, 7, 14]


def test_ece_matches_the_naive_definition_on_random_answers():
    rng = np.random.default_rng(3)
    confidence = rng.uniform(0.1, 1.0, 500)
    correct = rng.uniform(size=500) < confidence**2
    assert expected_calibration_error(confidence, correct) == pytest.approx(naive_ece(confidence, correct), abs=1e-12)
    table = reliability(confidence, correct)
    assert table.counts.sum() == 500 and len(table.edges) == 16


def test_nll_by_hand_and_floor():
    assert negative_log_likelihood(np.array([0.5, 0.25])) == pytest.approx((math.log(2) + math.log(4)) / 2)
    assert negative_log_likelihood(np.array([0.0])) == pytest.approx(-math.log(1e-12))
    assert math.isnan(negative_log_likelihood(np.array([])))


def test_cells_and_bootstrap_replicates_equal_direct_recomputation():
    rng = np.random.default_rng(0)
    cells, n = 3, 40
    confidence = rng.uniform(0.2, 1.0, (cells, n))
    correct = rng.uniform(size=(cells, n)) < confidence
    true_p = np.where(correct, confidence, rng.uniform(0.0, 0.3, (cells, n)))
    answered = np.ones((cells, n), bool)
    answered[1, :5] = False  # failed requests are left out of that cell
    draws = rng.integers(0, n, (2, n))
    weights = np.stack([np.bincount(d, minlength=n) for d in draws]).astype(np.float32)
    result = calibrate_cells(confidence, true_p, correct, answered, weights)
    for c in range(cells):
        keep = answered[c]
        assert result.answered[c] == keep.sum()
        assert result.ece[c] == pytest.approx(naive_ece(confidence[c][keep], correct[c][keep]))
        assert result.nll[c] == pytest.approx(negative_log_likelihood(true_p[c][keep]))
        for r, draw in enumerate(draws):
            drawn = draw[keep[draw]]  # the resample's images, each as often as it was drawn
            assert result.ece_resampled[c, r] == pytest.approx(naive_ece(confidence[c][drawn], correct[c][drawn]))
            assert result.nll_resampled[c, r] == pytest.approx(negative_log_likelihood(true_p[c][drawn]))


def test_pooled_cells_are_one_figure_over_all_their_answers():
    rng = np.random.default_rng(1)
    cells, n = 4, 30
    confidence = rng.uniform(0.2, 1.0, (cells, n))
    correct = rng.uniform(size=(cells, n)) < confidence
    true_p = np.where(correct, confidence, 0.05)
    answered = np.ones((cells, n), bool)
    answered[2, 3] = False
    draw = rng.integers(0, n, n)
    weights = np.bincount(draw, minlength=n)[None].astype(np.float32)
    pooled = calibrate_cells(confidence, true_p, correct, answered, weights, pooled=True)
    keep = answered.T.ravel()  # image-major, each image's answers in every cell
    flat = [a.T.ravel()[keep] for a in (confidence, correct, true_p)]
    assert pooled.answered.tolist() == [cells * n - 1]
    assert pooled.ece[0] == pytest.approx(naive_ece(flat[0], flat[1]))
    assert pooled.nll[0] == pytest.approx(negative_log_likelihood(flat[2]))
    drawn = np.concatenate([[(i, c) for c in range(cells) if answered[c, i]] for i in draw])
    assert pooled.ece_resampled[0, 0] == pytest.approx(naive_ece(confidence[drawn[:, 1], drawn[:, 0]],
                                                                 correct[drawn[:, 1], drawn[:, 0]]))


def test_the_reported_ece_is_bias_corrected_and_inside_its_interval():
    """Perfectly calibrated answers: the plain ECE of 300 of them is well above 0 (its bias), the
    bootstrap-corrected one is closer to the truth (0) though not at it, and every figure lies in its
    own interval."""
    from benchmark.accuracy.calibration_summary import debiased_ece

    rng = np.random.default_rng(0)
    plain, corrected = [], []
    for _ in range(200):
        confidence = rng.uniform(0.1, 1.0, 300)
        correct = rng.random(300) < confidence  # calibrated by construction
        resampled = []
        for _ in range(200):
            pick = rng.integers(0, 300, 300)
            resampled.append(expected_calibration_error(confidence[pick], correct[pick]))
        value = expected_calibration_error(confidence, correct)
        fixed, low, high = debiased_ece(value, np.array(resampled))
        assert 0 <= low <= fixed <= high
        plain.append(value)
        corrected.append(fixed)
    assert np.mean(corrected) < 0.7 * np.mean(plain)  # measured: 0.61 (it reduces the bias, not removes it)
