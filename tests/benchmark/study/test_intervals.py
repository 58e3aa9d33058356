"""The seed-and-image interval against naive references: simulated studies with a known seed variance
and image variance, where the truth is known and the experiment can be repeated thousands of times."""

import numpy as np
import pytest

from benchmark.study.intervals import difference_interval, fdr_adjusted, seed_image_interval


def simulate(rng, runs: int, images: int, seed_sd: float, image_sd: float, noise_sd: float,
             image_effects: np.ndarray | None = None, mu: float = 0.6) -> np.ndarray:
    b = image_effects if image_effects is not None else rng.normal(0, image_sd, images)
    return mu + rng.normal(0, seed_sd, (runs, 1)) + b[None, :] + rng.normal(0, noise_sd, (runs, images))


def test_the_mean_is_the_mean_and_the_interval_contains_it():
    y = np.array([[1, 0, 1, 1], [0, 0, 1, 1], [1, 1, 1, 0]], dtype=float)
    interval = seed_image_interval(y)
    assert interval.value == pytest.approx(y.mean())
    assert interval.low < interval.value < interval.high
    assert interval.seeds == (3,) and interval.images == 4 and interval.seed_variance_counted


@pytest.mark.parametrize("runs", [3, 5])
def test_coverage_with_known_seed_and_image_variance(runs):
    rng = np.random.default_rng(0)
    hits, estimates, predicted_se = 0, [], []
    for _ in range(2000):
        y = simulate(rng, runs, 200, seed_sd=0.02, image_sd=0.1, noise_sd=0.3)
        interval = seed_image_interval(y)
        hits += interval.low <= 0.6 <= interval.high
        estimates.append(interval.value)
        predicted_se.append(interval.high - interval.value)
    # the naive reference: the spread of the estimate over repeated experiments
    true_se = np.std(estimates)
    assert 0.93 <= hits / 2000 <= 0.985
    assert np.median(predicted_se) > 1.5 * true_se  # t with few seed df: wider than +/-1 SE, as it must be


def test_an_image_only_interval_misses_the_seed_variance_and_says_so():
    rng = np.random.default_rng(1)
    hits = 0
    for _ in range(1000):
        interval = seed_image_interval(simulate(rng, 1, 200, seed_sd=0.05, image_sd=0.05, noise_sd=0.1))
        hits += interval.low <= 0.6 <= interval.high
        assert not interval.seed_variance_counted
    assert hits / 1000 < 0.8  # one run cannot know how far another seed would move it


def test_paired_difference_coverage_over_shared_images():
    rng = np.random.default_rng(2)
    hits, widths_paired, widths_unpaired = 0, [], []
    for _ in range(2000):
        images = rng.normal(0, 0.15, 300)  # the same test images for both models: paired
        a = simulate(rng, 3, 300, 0.02, 0, 0.3, image_effects=images, mu=0.62)
        b = simulate(rng, 3, 300, 0.02, 0, 0.3, image_effects=images, mu=0.60)
        interval = difference_interval(a, b)
        hits += interval.low <= 0.02 <= interval.high
        widths_paired.append(interval.high - interval.low)
        separate = seed_image_interval(a), seed_image_interval(b)
        widths_unpaired.append(np.hypot(*(s.high - s.low for s in separate)))
    assert 0.93 <= hits / 2000 <= 0.985
    assert np.median(widths_paired) < np.median(widths_unpaired)  # pairing removes the shared image effect


def test_differences_need_the_same_images():
    with pytest.raises(ValueError, match="paired over images"):
        difference_interval(np.zeros((2, 5)), np.zeros((2, 6)))


def test_benjamini_hochberg_against_a_hand_computation():
    p = [0.01, 0.04, 0.03, 0.20]
    # sorted: 0.01, 0.03, 0.04, 0.20 -> p*m/rank: 0.04, 0.06, 0.0533, 0.20 -> monotone from the top
    assert fdr_adjusted(p) == pytest.approx([0.04, 0.0533333, 0.0533333, 0.20], abs=1e-6)
    assert fdr_adjusted([]) == []
