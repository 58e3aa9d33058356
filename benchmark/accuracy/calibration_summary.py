"""Calibration figures of an accuracy run: ECE and NLL per model and cell (calibration.csv), the
reliability bins behind the report's diagram (reliability.csv), and the per-model summary.

Every figure is over the answers that carried a class distribution (see calibration.py), with a
95% interval from a bootstrap over test images, and n the number of such answers; the summary's
figures over several cells pool their answers (calibration.py says why).

ECE is biased upwards at small n (each bin's |accuracy - confidence| is the absolute value of a
noisy difference), so its bootstrap replicates lie above it and a percentile interval can exclude
the estimate itself. ECE is therefore reported bias-corrected by the bootstrap (2 x ECE - the mean
of the replicates) with a normal interval around that estimate from the replicates' spread, both
clipped at 0: an interval reaching 0 says the miscalibration is not resolved at this n. NLL is a
mean, unbiased: its percentile interval is kept. (On calibrated synthetic answers, 300 at a time,
the correction removes about 40% of the bias: tests/benchmark/accuracy/test_calibration.py.)
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from robustcifar.corruptions import BENCHMARK_CORRUPTIONS

from .calibration import CellCalibration, calibrate_cells, reliability
from .outcomes import CLEAN, Outcomes
from .statistics import bootstrap_weights, percentile_interval

RELIABILITY_SEVERITY = 5  # the report's diagram: clean next to the hardest severity


@dataclass
class CalibrationRow:
    """One line of calibration.csv: one model on one cell."""

    model: str
    corruption: str
    severity: int
    n: int  # answers with a class distribution
    accuracy: float  # among those answers
    mean_confidence: float
    ece: float  # bias-corrected (see the module's docstring)
    ece_ci95_low: float
    ece_ci95_high: float
    nll: float
    nll_ci95_low: float
    nll_ci95_high: float
    ece_uncorrected: float = float("nan")  # the plain ECE of the answers, before the bias correction


@dataclass
class ReliabilityRow:
    """One line of reliability.csv: one confidence bin of one model on a group of cells."""

    model: str
    cells: str  # "clean" or "severity 5" (the benchmark corruptions at that severity, pooled)
    bin_low: float
    bin_high: float
    count: int
    mean_confidence: float
    accuracy: float


def _answered(confidence: np.ndarray) -> np.ndarray:
    return np.isfinite(confidence)


def _calibrate(confidence, true_probability, correct, weights, pooled: bool = False) -> CellCalibration:
    answered = _answered(confidence)
    return calibrate_cells(np.nan_to_num(confidence), np.nan_to_num(true_probability, nan=1.0), correct, answered,
                           weights, pooled=pooled)


@dataclass
class ModelCalibration:
    grid: CellCalibration  # every cell of the grid (its clean row on the grid's images)
    clean: CellCalibration  # one cell: every clean image measured
    arrays: tuple  # (confidence, true_probability, correct) of the grid, for pooled figures
    weights: np.ndarray

    def figures(self, cells: list[int]) -> dict:
        """ECE and NLL of all the answers in `cells` of the grid pooled, with bootstrap intervals
        (n: the answers pooled)."""
        confidence, true_probability, correct = (a[cells] for a in self.arrays)
        pooled = _calibrate(confidence, true_probability, correct, self.weights, pooled=True)
        n = int(pooled.answered[0])
        return {"ece": _ece_figure(pooled.ece[0], pooled.ece_resampled[0], n),
                "nll": _figure(pooled.nll[0], pooled.nll_resampled[0], n)}


def _figure(value: float, resampled: np.ndarray, n: int) -> dict | None:
    if not np.isfinite(value):
        return None
    low, high = percentile_interval(resampled)
    return {"value": float(value), "ci95": [low, high], "n": int(n)}


def debiased_ece(value: float, resampled: np.ndarray) -> tuple[float, float, float]:
    """(bias-corrected ECE, low, high): see the module's docstring; NaN when not computable."""
    resampled = np.asarray(resampled, dtype=np.float64)
    resampled = resampled[np.isfinite(resampled)]
    if not np.isfinite(value) or len(resampled) < 2:
        return float("nan"), float("nan"), float("nan")
    corrected = max(0.0, 2 * value - float(resampled.mean()))
    half = 1.959964 * float(resampled.std(ddof=1))
    return corrected, max(0.0, corrected - half), corrected + half


def _ece_figure(value: float, resampled: np.ndarray, n: int) -> dict | None:
    corrected, low, high = debiased_ece(value, resampled)
    if not np.isfinite(corrected):
        return None
    return {"value": corrected, "ci95": [low, high], "n": int(n), "uncorrected": float(value)}


def model_calibration(outcomes: Outcomes, model: str, resamples: int, seed: int) -> ModelCalibration | None:
    if model not in outcomes.confidence or outcomes.cell_index(CLEAN, 0) is None:
        return None
    weights = bootstrap_weights(outcomes.n_images, resamples, seed)
    grid = _calibrate(outcomes.confidence[model], outcomes.true_probability[model], outcomes.correct[model], weights)
    confidence, true_probability = outcomes.clean_calibration(model)
    right, _ = outcomes.clean_cell(model)
    if outcomes.clean_all is None:
        i = outcomes.cell_index(CLEAN, 0)
        clean = CellCalibration(*(a[i : i + 1] for a in (grid.answered, grid.ece, grid.nll, grid.ece_resampled,
                                                           grid.nll_resampled)))
    else:
        clean = _calibrate(confidence[None], true_probability[None], right[None],
                           bootstrap_weights(len(right), resamples, seed))
    arrays = (outcomes.confidence[model], outcomes.true_probability[model], outcomes.correct[model])
    return ModelCalibration(grid, clean, arrays, weights)


def calibration_summary(outcomes: Outcomes, model: str, calibration: ModelCalibration) -> dict:
    """summary.json's "calibration" of one model: clean, the mean over the benchmark corruptions, per severity."""
    benchmark = [c for c in BENCHMARK_CORRUPTIONS if c in outcomes.corruptions]
    clean = calibration.clean
    severities = sorted({s for c, s in zip(outcomes.corruptions, outcomes.severities) if c in benchmark})
    return {
        "clean": {"ece": _ece_figure(clean.ece[0], clean.ece_resampled[0], int(clean.answered[0])),
                  "nll": _figure(clean.nll[0], clean.nll_resampled[0], int(clean.answered[0]))},
        "benchmark_mean": calibration.figures(outcomes.cells_of(benchmark)) if benchmark else None,
        "per_severity": {str(s): calibration.figures([i for i in outcomes.cells_of(benchmark)
                                                      if outcomes.severities[i] == s]) for s in severities},
    }


def calibration_rows(outcomes: Outcomes, model: str, calibration: ModelCalibration) -> list[CalibrationRow]:
    rows = []
    for i, (corruption, severity) in enumerate(zip(outcomes.corruptions, outcomes.severities)):
        if corruption == CLEAN:
            cell, j = calibration.clean, 0
            confidence, _ = outcomes.clean_calibration(model)
            right, _ = outcomes.clean_cell(model)
        else:
            cell, j = calibration.grid, i
            confidence, right = outcomes.confidence[model][i], outcomes.correct[model][i]
        answered = _answered(confidence)
        ece, ece_low, ece_high = debiased_ece(float(cell.ece[j]), cell.ece_resampled[j])
        nll_low, nll_high = percentile_interval(cell.nll_resampled[j])
        rows.append(CalibrationRow(
            model, corruption, severity, int(answered.sum()),
            float(right[answered].mean()) if answered.any() else float("nan"),
            float(confidence[answered].mean()) if answered.any() else float("nan"),
            ece, ece_low, ece_high, float(cell.nll[j]), nll_low, nll_high, float(cell.ece[j])))
    return rows


def reliability_rows(outcomes: Outcomes, model: str) -> list[ReliabilityRow]:
    """The bins of the clean cell (every clean image measured) and of the benchmark corruptions at
    severity 5, pooled."""
    groups = []
    clean = outcomes.clean_calibration(model)
    if clean is not None:
        groups.append(("clean", clean[0], outcomes.clean_cell(model)[0]))
    hard = [i for i in outcomes.cells_of(BENCHMARK_CORRUPTIONS) if outcomes.severities[i] == RELIABILITY_SEVERITY]
    if hard and model in outcomes.confidence:
        groups.append((f"severity {RELIABILITY_SEVERITY}", outcomes.confidence[model][hard].ravel(),
                       outcomes.correct[model][hard].ravel()))
    rows = []
    for name, confidence, right in groups:
        answered = _answered(confidence)
        table = reliability(confidence[answered], right[answered])
        edges = table.edges
        for k in range(len(table.counts)):
            rows.append(ReliabilityRow(model, name, float(edges[k]), float(edges[k + 1]), int(table.counts[k]),
                                       float(table.mean_confidence[k]), float(table.accuracy[k])))
    return rows
