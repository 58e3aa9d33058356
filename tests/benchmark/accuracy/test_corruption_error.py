import numpy as np
import pytest

from benchmark.accuracy.corruption_error import (
    corruption_errors,
    mean_over_corruptions,
    relative_corruption_errors,
)

# Two corruptions (rows) x two severities (columns), errors of the model and of the baseline.
MODEL = np.array([[0.1, 0.3], [0.5, 1.0]])
BASELINE = np.array([[0.2, 0.4], [0.5, 0.5]])
MODEL_CLEAN, BASELINE_CLEAN = 0.05, 0.1


def test_corruption_error_against_hand_computed_values():
    # A: (.1 + .3) / (.2 + .4) = .6667;  B: (.5 + 1) / (.5 + .5) = 1.5;  mCE = 1.08333
    ce = corruption_errors(MODEL, BASELINE)
    assert ce == pytest.approx([0.4 / 0.6, 1.5])
    assert mean_over_corruptions(ce) == pytest.approx((0.4 / 0.6 + 1.5) / 2)


def test_relative_corruption_error_against_hand_computed_values():
    # A: ((.1-.05) + (.3-.05)) / ((.2-.1) + (.4-.1)) = .30 / .40 = .75
    # B: ((.5-.05) + (1-.05)) / ((.5-.1) + (.5-.1)) = 1.40 / .80 = 1.75;  relative mCE = 1.25
    rel = relative_corruption_errors(MODEL, MODEL_CLEAN, BASELINE, BASELINE_CLEAN)
    assert rel == pytest.approx([0.75, 1.75])
    assert mean_over_corruptions(rel) == pytest.approx(1.25)


def test_the_baseline_scores_exactly_one():
    assert corruption_errors(BASELINE, BASELINE) == pytest.approx([1.0, 1.0])
    assert relative_corruption_errors(BASELINE, BASELINE_CLEAN, BASELINE, BASELINE_CLEAN) == pytest.approx([1.0, 1.0])


def test_undefined_ratios_are_left_out_of_the_mean():
    # The baseline loses nothing to corruption B (its error equals its clean error): relative CE undefined.
    baseline = np.array([[0.2, 0.4], [0.1, 0.1]])
    rel = relative_corruption_errors(MODEL, MODEL_CLEAN, baseline, BASELINE_CLEAN)
    assert rel[0] == pytest.approx(0.75) and np.isnan(rel[1])
    assert mean_over_corruptions(rel) == pytest.approx(0.75)
    # A baseline without a single error leaves CE undefined rather than infinite.
    assert np.isnan(corruption_errors(MODEL, np.zeros((2, 2)))).all()
    assert np.isnan(mean_over_corruptions(np.array([np.nan, np.nan])))


def test_a_baseline_that_loses_nothing_is_undefined_despite_float_rounding():
    # On paper the baseline loses exactly nothing: (.65 - .7) + (.7 - .7) + (.75 - .7) + (.8 - .7) + (.6 - .7) = 0,
    # which floating point sums to 2.2e-16.
    baseline = np.array([[0.65, 0.7, 0.75, 0.8, 0.6]])
    assert np.isnan(relative_corruption_errors(baseline + 0.05, 0.7, baseline, 0.7)).all()


def test_trailing_axes_are_carried_through():
    stacked = np.stack([MODEL, MODEL * 0.5], axis=-1)  # (C, S, 2): e.g. two bootstrap resamples
    ce = corruption_errors(stacked, np.stack([BASELINE, BASELINE], axis=-1))
    assert ce.shape == (2, 2)
    assert ce[:, 0] == pytest.approx(corruption_errors(MODEL, BASELINE))
    assert ce[:, 1] == pytest.approx(corruption_errors(MODEL * 0.5, BASELINE))
    rel = relative_corruption_errors(stacked, np.array([MODEL_CLEAN, 0.0]), np.stack([BASELINE] * 2, axis=-1),
                                     np.array([BASELINE_CLEAN] * 2))
    assert rel[:, 0] == pytest.approx([0.75, 1.75])
    # second: ((.05 + .15) / .4, (.25 + .5) / .8)
    assert rel[:, 1] == pytest.approx([0.5, 0.9375])
