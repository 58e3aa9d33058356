"""Corruption error (CE), relative CE and their means (mCE), after Hendrycks & Dietterich (ICLR 2019).

With E[f, s, c] the top-1 error of model f on corruption c at severity s, and E_clean[f] its error
on clean images, the paper normalises by a baseline model (AlexNet there, `ce_clean` here):

    CE[f, c]          = sum_s E[f, s, c] / sum_s E[base, s, c]
    relative CE[f, c] = sum_s (E[f, s, c] - E_clean[f]) / sum_s (E[base, s, c] - E_clean[base])
    mCE, relative mCE = the mean of CE, relative CE over the corruptions (the 15 benchmark ones)

A CE of 1 (100%) means "as many errors as the baseline"; the relative CE compares how much accuracy
is *lost* to the corruption rather than the error level, so a model can have a low mCE only
because its clean error is low while its relative mCE stays high.

Arrays: errors (corruptions, severities, ...) and clean errors (...); any trailing axes (for
example bootstrap resamples) are carried through, so the same code gives figures and intervals.
A corruption whose baseline denominator is not positive (the baseline made no errors, or lost no
accuracy to it) has no defined ratio: it is NaN, and the mean is taken over the defined ones. When
the baseline loses little accuracy, the relative CE is defined but unstable: see summary.py.
"""

from __future__ import annotations

import warnings

import numpy as np

# Error rates are multiples of 1/n (n <= 10,000 images per cell), so a real denominator is at least
# 1e-4, while one that is zero on paper comes out of float sums of differences as about 1e-16;
# dividing by that gave relative CEs of 1e15.
DENOMINATOR_FLOOR = 1e-9


def _ratio(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    numerator, denominator = np.asarray(numerator, np.float64), np.asarray(denominator, np.float64)
    defined = denominator > DENOMINATOR_FLOOR
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(defined, numerator / np.where(defined, denominator, 1.0), np.nan)


def corruption_errors(errors: np.ndarray, baseline_errors: np.ndarray) -> np.ndarray:
    """(C, S, ...) errors of the model and of the baseline -> (C, ...) CE per corruption."""
    return _ratio(np.sum(errors, axis=1), np.sum(baseline_errors, axis=1))


def accuracy_lost(errors: np.ndarray, clean_error: np.ndarray) -> np.ndarray:
    """(C, S, ...) errors and (...) clean error -> (C, ...) sum over severities of (E[s, c] - E_clean)."""
    return np.sum(np.asarray(errors, np.float64) - np.asarray(clean_error, np.float64)[None, None], axis=1)


def relative_corruption_errors(errors: np.ndarray, clean_error: np.ndarray, baseline_errors: np.ndarray,
                               baseline_clean_error: np.ndarray) -> np.ndarray:
    """(C, S, ...) errors and (...) clean errors of both models -> (C, ...) relative CE per corruption."""
    return _ratio(accuracy_lost(errors, clean_error), accuracy_lost(baseline_errors, baseline_clean_error))


def mean_over_corruptions(per_corruption: np.ndarray) -> np.ndarray:
    """(C, ...) -> (...): the mean over the corruptions whose ratio is defined (NaN when none is)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN slices are NaN, which is what we want
        return np.nanmean(np.asarray(per_corruption, np.float64), axis=0)
