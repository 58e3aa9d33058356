"""Confidence intervals for accuracies measured on n images.

Three kinds, for three kinds of figure:
- one cell (n independent images, each right or wrong): the Wilson score interval;
- a mean over several cells of the *same* images (e.g. the 75 corrupted versions of 100 test
  images): the images are the independent units, not the 7,500 predictions, so the interval is a
  normal one over the per-image mean scores; pooling all predictions would pretend to 75 times as
  much data and give far too narrow an interval;
- a ratio of error sums such as the mCE: a percentile bootstrap that resamples images, the same
  resample for the model and the baseline (the comparison is paired);
- a difference between two models on the same images: a t interval over the per-image
  differences (a paired t test's interval), far tighter than either model's own.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import stats

Z_95 = 1.959963984540054
NAN_INTERVAL = (float("nan"), float("nan"))


def wilson_interval(correct: int, n: int, z: float = Z_95) -> tuple[float, float]:
    """95% Wilson score interval of a binomial proportion; well behaved at 0% and 100%, unlike the normal one."""
    if n == 0:
        return NAN_INTERVAL
    p = correct / n
    denominator = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denominator
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denominator
    return max(0.0, centre - half), min(1.0, centre + half)


def mean_interval(scores: np.ndarray, z: float = Z_95) -> tuple[float, float]:
    """95% normal interval of the mean of per-image scores in [0, 1], clipped to [0, 1].

    mean +- z * s / sqrt(n), with s the sample standard deviation (n - 1 in the denominator).
    """
    scores = np.asarray(scores, dtype=np.float64)
    n = len(scores)
    if n < 2:
        return NAN_INTERVAL
    mean = float(scores.mean())
    half = z * float(scores.std(ddof=1)) / math.sqrt(n)
    return max(0.0, mean - half), min(1.0, mean + half)


def paired_difference_interval(differences: np.ndarray, level: float = 0.95) -> tuple[float, float]:
    """Interval of the mean of per-image differences (model - baseline), each in [-1, 1]: a one-sample t
    interval, i.e. the paired t test's. A constant difference (all images agree) has a zero-width one."""
    d = np.asarray(differences, dtype=np.float64)
    if len(d) < 2:
        return NAN_INTERVAL
    if np.all(d == d[0]):
        return float(d[0]), float(d[0])
    interval = stats.ttest_1samp(d, 0.0).confidence_interval(level)
    return float(interval.low), float(interval.high)


def bootstrap_weights(n: int, resamples: int, seed: int = 0) -> np.ndarray:
    """(resamples, n) float32: how often each of n images is drawn in each resample of size n.

    Weights instead of index arrays, so a statistic over all resamples is one matrix product.
    """
    rng = np.random.default_rng(seed)
    return rng.multinomial(n, np.full(n, 1.0 / n), size=resamples).astype(np.float32)


def percentile_interval(values: np.ndarray, level: float = 0.95) -> tuple[float, float]:
    """The central `level` range of bootstrap values, ignoring resamples where the statistic is undefined."""
    values = np.asarray(values, dtype=np.float64)
    values = values[np.isfinite(values)]
    if len(values) == 0:
        return NAN_INTERVAL
    tail = 100 * (1 - level) / 2
    low, high = np.percentile(values, [tail, 100 - tail])
    return float(low), float(high)
