"""Intervals that count both sources of variance of a study figure: which training run (seed) and which
test images.

A model's figure is the mean over its S training runs of the run's mean over the same n test images
(an image's value is its correctness, or its mean correctness over the cells of a family). With
y[s, i] the value of run s on image i, the figure is m = mean(y). Treat seeds and images as crossed
random effects, y = mu + a_s + b_i + e_si:

    Var(m) ~ var_s(T_s) / S + var_i(z_i) / n

where T_s is run s's mean over the images (its spread across runs is the training variance, the
image set being the same for all) and z_i is image i's mean over the runs (its spread across
images is the test-set variance). The interval is m +/- t * sqrt(Var(m)), with the degrees of
freedom of the sum by Satterthwaite's formula, so three seeds give a wide interval (t at about 2
degrees of freedom) rather than a falsely narrow one: a bootstrap over three seeds can only ever
draw ten different sets of them, and its percentile interval is too short for that few. The
estimate of Var(m) counts the image-by-run residual twice over, by sigma_e^2 / (S n): a slight
overestimate, negligible next to both terms (tests/benchmark/study/test_intervals.py checks the
coverage on synthetic data with known seed and image variance).

A paired difference between two models (their own training runs, the same test images) adds both
models' seed terms, and takes the image term from the per-image difference of their run means.
With one run the seed term cannot be estimated: the interval covers the test images only, and
says so (`seed_variance_counted` is False).

Per-corruption differences are many comparisons at once: their p-values are adjusted with
Benjamini and Hochberg's false-discovery-rate procedure (scipy.stats.false_discovery_control).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import stats


@dataclass(frozen=True)
class Interval:
    value: float
    low: float
    high: float
    seeds: tuple[int, ...]  # training runs per model (one entry per model in the figure)
    images: int
    df: float
    p_value: float  # two-sided, against 0 (meaningful for differences)

    @property
    def seed_variance_counted(self) -> bool:
        return all(s > 1 for s in self.seeds)

    def excludes_zero(self) -> bool:
        return self.low > 0 or self.high < 0

    def as_dict(self) -> dict:
        return {"value": self.value, "ci95": [self.low, self.high], "seeds": list(self.seeds), "images": self.images,
                "df": self.df, "p_value": self.p_value, "seed_variance_counted": self.seed_variance_counted}


def _combine(value: float, components: list[tuple[float, float]], seeds: tuple[int, ...], images: int,
             level: float) -> Interval:
    """components: (variance contribution, its degrees of freedom); Satterthwaite's df for the sum."""
    variance = sum(v for v, _ in components)
    if variance <= 0:
        return Interval(value, value, value, seeds, images, float("inf"), 0.0 if value != 0 else 1.0)
    df = variance**2 / sum(v**2 / d for v, d in components if d > 0 and v > 0)
    se = np.sqrt(variance)
    half = stats.t.ppf(0.5 + level / 2, df) * se
    p = float(2 * stats.t.sf(abs(value) / se, df))
    return Interval(float(value), float(value - half), float(value + half), seeds, images, float(df), p)


def _parts(y: np.ndarray) -> tuple[float, list[tuple[float, float]], np.ndarray]:
    y = np.atleast_2d(np.asarray(y, dtype=np.float64))
    runs, images = y.shape
    if images < 2:
        raise ValueError("an interval over test images needs at least two images")
    components = []
    if runs > 1:
        components.append((float(np.var(y.mean(axis=1), ddof=1)) / runs, runs - 1))
    return float(y.mean()), components, y.mean(axis=0)


def seed_image_interval(y: np.ndarray, level: float = 0.95) -> Interval:
    """y: (runs, images) values of one model; the interval of their mean."""
    value, components, z = _parts(y)
    components.append((float(np.var(z, ddof=1)) / len(z), len(z) - 1))
    return _combine(value, components, (np.atleast_2d(y).shape[0],), len(z), level)


def difference_interval(y_a: np.ndarray, y_b: np.ndarray, level: float = 0.95) -> Interval:
    """mean(y_a) - mean(y_b) for two models measured on the same images (columns), each with its own runs."""
    value_a, components_a, z_a = _parts(y_a)
    value_b, components_b, z_b = _parts(y_b)
    if len(z_a) != len(z_b):
        raise ValueError(f"paired over images: {len(z_a)} vs {len(z_b)} images")
    w = z_a - z_b
    components = components_a + components_b + [(float(np.var(w, ddof=1)) / len(w), len(w) - 1)]
    seeds = (np.atleast_2d(y_a).shape[0], np.atleast_2d(y_b).shape[0])
    return _combine(value_a - value_b, components, seeds, len(w), level)


def fdr_adjusted(p_values: list[float]) -> list[float]:
    """Benjamini-Hochberg adjusted p-values, in the given order."""
    if not p_values:
        return []
    return [float(p) for p in stats.false_discovery_control(np.asarray(p_values, dtype=np.float64), method="bh")]
