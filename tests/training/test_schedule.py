import itertools

import pytest

from training.schedule import one_cycle_factor


def test_rises_to_one_then_decays_to_zero():
    factors = [one_cycle_factor(s, 100, 0.2) for s in range(100)]
    assert factors[0] == pytest.approx(0.05) and factors[19] == pytest.approx(1.0)
    assert max(factors) == pytest.approx(1.0) and factors[-1] == pytest.approx(1 / 80)
    assert all(a >= b for a, b in itertools.pairwise(factors[19:]))
