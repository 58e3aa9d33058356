"""How far a model's confidence can be trusted: expected calibration error and negative log-likelihood.

ECE (Naeini et al. 2015; Guo et al. 2017): the answers are sorted by their confidence (the
probability of the predicted class) into 15 equal-width bins (0, 1/15], (1/15, 2/15], ...,
(14/15, 1]; ECE is the mean over bins, weighted by the share of answers in each, of
|accuracy in the bin - mean confidence in the bin|. 0 is perfectly calibrated; a model that is
always 90% sure and right half the time has ECE 0.4.

NLL: the mean of -ln p(true class), in nats. It punishes confident mistakes without bound, so a
probability is floored at PROBABILITY_FLOOR (it only ever bites on an exact 0).

Both are computed from what the endpoints answered, over the answered requests only (a failed
request has no probabilities; the accuracy figures count it as wrong). Intervals come from the
same percentile bootstrap over test images as the mCE's: per-bin sums are linear in the
bootstrap weights, so every resample of every cell is a few matrix products.

ECE measured on few answers is biased upward: even a perfectly calibrated model shows an ECE
above 0 from sampling alone, and a bootstrap resample (with its repeated images) more so, so the
interval of a cell of a few hundred answers can lie above its own estimate. Means over cells are
therefore the ECE of all their answers pooled (`pooled`), not a mean of per-cell ECEs; a per-cell
ECE is comparable only with cells of the same size.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

ECE_BINS = 15
PROBABILITY_FLOOR = 1e-12


def bin_of(confidence: np.ndarray, bins: int = ECE_BINS) -> np.ndarray:
    """Bin index of each confidence: (k/bins, (k+1)/bins] -> k; a confidence of exactly 0 goes to bin 0."""
    confidence = np.asarray(confidence, dtype=np.float64)
    return np.clip(np.ceil(confidence * bins).astype(np.int64) - 1, 0, bins - 1)


@dataclass
class Reliability:
    """Per bin: how many answers, their mean confidence and their accuracy (NaN for an empty bin)."""

    counts: np.ndarray  # (bins,)
    mean_confidence: np.ndarray  # (bins,)
    accuracy: np.ndarray  # (bins,)

    @property
    def edges(self) -> np.ndarray:
        return np.linspace(0.0, 1.0, len(self.counts) + 1)

    @property
    def ece(self) -> float:
        total = self.counts.sum()
        if total == 0:
            return float("nan")
        filled = self.counts > 0
        gaps = np.abs(self.accuracy[filled] - self.mean_confidence[filled])
        return float(np.sum(self.counts[filled] * gaps) / total)


def reliability(confidence: np.ndarray, correct: np.ndarray, bins: int = ECE_BINS) -> Reliability:
    confidence = np.asarray(confidence, dtype=np.float64)
    correct = np.asarray(correct, dtype=np.float64)
    index = bin_of(confidence, bins)
    counts = np.bincount(index, minlength=bins).astype(np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_confidence = np.bincount(index, confidence, minlength=bins) / counts
        accuracy = np.bincount(index, correct, minlength=bins) / counts
    return Reliability(counts, mean_confidence, accuracy)


def expected_calibration_error(confidence: np.ndarray, correct: np.ndarray, bins: int = ECE_BINS) -> float:
    return reliability(confidence, correct, bins).ece


def negative_log_likelihood(true_probability: np.ndarray) -> float:
    """Mean -ln p(true class) in nats (NaN for no answers)."""
    p = np.asarray(true_probability, dtype=np.float64)
    if p.size == 0:
        return float("nan")
    return float(np.mean(-np.log(np.maximum(p, PROBABILITY_FLOOR))))


@dataclass
class CellCalibration:
    """ECE and NLL of each cell, measured and over bootstrap resamples of the images."""

    answered: np.ndarray  # (cells,) answers with probabilities
    ece: np.ndarray  # (cells,)
    nll: np.ndarray  # (cells,)
    ece_resampled: np.ndarray  # (cells, resamples)
    nll_resampled: np.ndarray  # (cells, resamples)


def calibrate_cells(confidence: np.ndarray, true_probability: np.ndarray, correct: np.ndarray,
                    answered: np.ndarray, weights: np.ndarray, bins: int = ECE_BINS,
                    pooled: bool = False) -> CellCalibration:
    """(cells, n) arrays of one model -> per-cell ECE and NLL and their bootstrap replicates, or with
    `pooled` one figure over all the cells' answers together (each image carries its answers in
    every cell into a resample).

    `weights` (resamples, n) says how often each image is drawn in each resample (the same images
    in every cell, so a resample is the same for all cells, as for the mCE).
    """
    confidence = np.atleast_2d(np.asarray(confidence, dtype=np.float64))
    correct = np.atleast_2d(np.asarray(correct, dtype=np.float64))
    answered = np.atleast_2d(np.asarray(answered, dtype=bool))
    true_probability = np.atleast_2d(np.asarray(true_probability, dtype=np.float64))
    cells, n = confidence.shape
    use = answered.astype(np.float64)
    nll_each = -np.log(np.maximum(np.where(answered, true_probability, 1.0), PROBABILITY_FLOOR)) * use
    index = bin_of(np.where(answered, confidence, 0.0), bins)
    # (n, cells * bins) one-hot of each answered image's bin in each cell
    one_hot = np.zeros((n, cells, bins))
    one_hot[np.arange(n)[:, None], np.arange(cells)[None, :], index.T] = use.T
    right_sums, sure_sums = one_hot * correct.T[:, :, None], one_hot * confidence.T[:, :, None]
    if pooled:  # one cell: each image's answers in all cells, per bin
        one_hot, right_sums, sure_sums = (a.sum(axis=1, keepdims=True) for a in (one_hot, right_sums, sure_sums))
        nll_each, use = nll_each.sum(axis=0, keepdims=True), use.sum(axis=0, keepdims=True)
        cells = 1
    one_hot, right_sums, sure_sums = (a.reshape(n, cells * bins) for a in (one_hot, right_sums, sure_sums))

    def ece_of(w: np.ndarray) -> np.ndarray:
        """w (r, n) -> (r, cells) ECE."""
        counts = w @ one_hot
        gaps = np.abs(w @ right_sums - w @ sure_sums)
        total = counts.reshape(-1, cells, bins).sum(axis=2)
        with np.errstate(invalid="ignore", divide="ignore"):
            return gaps.reshape(-1, cells, bins).sum(axis=2) / total

    def nll_of(w: np.ndarray) -> np.ndarray:
        with np.errstate(invalid="ignore", divide="ignore"):
            return (w @ nll_each.T) / (w @ use.T)

    ones = np.ones((1, n))
    weights = np.asarray(weights, dtype=np.float64)
    return CellCalibration(use.sum(axis=1), ece_of(ones)[0], nll_of(ones)[0], ece_of(weights).T, nll_of(weights).T)
