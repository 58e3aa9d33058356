import pytest

from benchmark.statistics import wilson_interval


def test_wilson_interval_against_hand_computed_values():
    # 80/100, z^2 = 3.8415: centre (0.8 + 0.019207)/1.038415 = 0.788902,
    # half-width 1.96 * sqrt(0.0016 + 0.00009604)/1.038415 = 0.077733 -> (0.7112, 0.8666)
    low, high = wilson_interval(80, 100)
    assert low == pytest.approx(0.7112, abs=1e-4) and high == pytest.approx(0.8666, abs=1e-4)
    # 0/10 stays within [0, 1]: upper bound z^2/(n+z^2) = 3.8415/13.8415 = 0.2775
    low, high = wilson_interval(0, 10)
    assert low == 0.0 and high == pytest.approx(0.2775, abs=1e-4)


def test_wilson_interval_narrows_with_n():
    small, large = wilson_interval(5, 10), wilson_interval(500, 1000)
    assert small[1] - small[0] > large[1] - large[0]
