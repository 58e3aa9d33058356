"""The per-model summary of an accuracy run, every figure with its 95% interval and its n.

Per model: clean accuracy; the mean over the 15 benchmark corruptions, over the 4 extra
("unseen") ones and over CIFAR-10-C-bar's 10 (unseen by design, when measured); mCE and relative mCE against the baseline model `ce_clean`; accuracy, CE and
relative CE per corruption; the mean over the benchmark corruptions per severity; failed requests;
the paired difference to the baseline (same images, so far tighter than either model's interval);
and the calibration figures (ECE and NLL, see calibration_summary.py).
"""

from __future__ import annotations

import numpy as np

from robustcifar.corruptions import BENCHMARK_CORRUPTIONS, CBAR_CORRUPTIONS, EXTRA_CORRUPTIONS
from robustcifar.errors import UsageError

from .calibration_summary import ModelCalibration, calibration_summary, model_calibration
from .corruption_error import (
    accuracy_lost,
    corruption_errors,
    mean_over_corruptions,
    relative_corruption_errors,
)
from .outcomes import CLEAN, Outcomes
from .statistics import (
    bootstrap_weights,
    mean_interval,
    paired_difference_interval,
    percentile_interval,
    wilson_interval,
)

BASELINE_MODEL = "ce_clean"
# A relative CE divides by the accuracy the baseline lost to a corruption (a CE by its errors). When
# that is 0 or less in more than 2.5% of the bootstrap resamples, its own 95% interval reaches 0 and
# the ratio's interval has no bound (as Fieller's interval of a ratio): it is reported as unbounded.
UNBOUNDED_SHARE = 0.025


def figure(value: float | None, interval: tuple[float, float], n: int, unbounded: bool = False) -> dict | None:
    """The JSON shape of every reported figure: value, 95% interval ([null, null] when unbounded), and
    the number of test images behind it."""
    if value is None or not np.isfinite(value):
        return None
    low, high = interval
    if unbounded:
        return {"value": float(value), "ci95": [None, None], "n": int(n), "unbounded": True}
    return {"value": float(value), "ci95": [float(low), float(high)], "n": int(n)}


class ErrorGrids:
    """Errors per (corruption, severity) of one model, measured and over bootstrap resamples of the images."""

    def __init__(self, outcomes: Outcomes, model: str, weights: np.ndarray) -> None:
        self.outcomes = outcomes
        self.correct = outcomes.correct[model]
        self.weights = weights

    def accuracies(self, cells: list[int]) -> np.ndarray:
        """(cells,) measured accuracy and (cells, resamples) resampled accuracy (float32: one matrix product)."""
        measured = self.correct[cells].mean(axis=1)
        resampled = self.correct[cells].astype(np.float32) @ self.weights.T / self.outcomes.n_images
        return measured, resampled

    def grid(self, corruptions: list[str]) -> tuple[np.ndarray, np.ndarray]:
        """Errors (C, S) and (C, S, resamples) for corruptions that were all measured at the same severities."""
        severities = sorted({s for c, s in zip(self.outcomes.corruptions, self.outcomes.severities)
                             if c in corruptions})
        cells = [[self.outcomes.cell_index(c, s) for s in severities] for c in corruptions]
        if any(i is None for row in cells for i in row):
            raise UsageError("corruptions measured at different severities; CE needs the same ones for all")
        flat = [i for row in cells for i in row]
        measured, resampled = self.accuracies(flat)
        shape = (len(corruptions), len(severities))
        return 1 - measured.reshape(shape), 1 - resampled.reshape(*shape, -1)

    def clean_error(self) -> tuple[float, np.ndarray]:
        measured, resampled = self.accuracies([self.outcomes.cell_index(CLEAN, 0)])
        return 1 - measured[0], 1 - resampled[0]


def unbounded_ratio(resampled_denominators: np.ndarray) -> np.ndarray:
    """(C, resamples) -> (C,): True where the denominator is 0 or less in too many resamples."""
    return np.mean(~(resampled_denominators > 0), axis=-1) > UNBOUNDED_SHARE


def present(outcomes: Outcomes, corruptions) -> list[str]:
    return [c for c in corruptions if c in set(outcomes.corruptions)]


def families_present(outcomes: Outcomes) -> tuple[list[str], list[str], list[str]]:
    """The measured corruptions of the 15 benchmark, the 4 extra and CIFAR-10-C-bar's 10."""
    return (present(outcomes, BENCHMARK_CORRUPTIONS), present(outcomes, EXTRA_CORRUPTIONS),
            present(outcomes, CBAR_CORRUPTIONS))


def mean_accuracy(outcomes: Outcomes, model: str, cells: list[int]) -> dict | None:
    """Mean over cells of the same images; the interval is over the per-image mean scores."""
    if not cells:
        return None
    per_image = outcomes.correct[model][cells].mean(axis=0)
    return figure(float(per_image.mean()), mean_interval(per_image), outcomes.n_images)


def clean_accuracy(outcomes: Outcomes, model: str) -> dict | None:
    """On every clean image measured (all 10,000 in the study profile), not only the grid's share."""
    if outcomes.cell_index(CLEAN, 0) is None:
        return None
    right, _ = outcomes.clean_cell(model)
    correct, n = int(right.sum()), len(right)
    return figure(correct / n, wilson_interval(correct, n), n)


def difference_figure(mine: np.ndarray, base: np.ndarray) -> dict | None:
    """Paired difference of per-image scores (model - baseline), with its 95% t interval over the images."""
    diff = np.asarray(mine, dtype=np.float64) - np.asarray(base, dtype=np.float64)
    if len(diff) < 2:
        return None
    return figure(float(diff.mean()), paired_difference_interval(diff), len(diff))


def paired_differences(outcomes: Outcomes, model: str, baseline: str) -> dict | None:
    """Accuracy of `model` minus that of `baseline` on the same images: clean, the means over the
    benchmark and the unseen corruptions, and per corruption. None for the baseline itself."""
    if model == baseline or baseline not in outcomes.models:
        return None

    def over(cells: list[int]) -> dict | None:
        if not cells:
            return None
        return difference_figure(outcomes.correct[model][cells].mean(axis=0),
                                 outcomes.correct[baseline][cells].mean(axis=0))

    benchmark, extra, cbar = families_present(outcomes)
    clean = None
    if outcomes.cell_index(CLEAN, 0) is not None:
        clean = difference_figure(outcomes.clean_cell(model)[0], outcomes.clean_cell(baseline)[0])
    return {"baseline": baseline, "clean": clean, "benchmark_mean": over(outcomes.cells_of(benchmark)),
            "extra_mean": over(outcomes.cells_of(extra)), "cbar_mean": over(outcomes.cells_of(cbar)),
            "per_corruption": {c: over(outcomes.cells_of([c])) for c in benchmark + extra + cbar}}


def corruption_error_figures(outcomes: Outcomes, model: str, baseline: str, corruptions: list[str],
                             weights: np.ndarray) -> dict:
    """CE and relative CE per corruption and their means, against `baseline`, with paired bootstrap intervals."""
    if not corruptions or baseline not in outcomes.models or outcomes.cell_index(CLEAN, 0) is None:
        return {"per_corruption": {}, "mce": None, "relative_mce": None}
    mine, base = ErrorGrids(outcomes, model, weights), ErrorGrids(outcomes, baseline, weights)
    (errors, errors_r), (base_errors, base_errors_r) = mine.grid(corruptions), base.grid(corruptions)
    (clean, clean_r), (base_clean, base_clean_r) = mine.clean_error(), base.clean_error()
    ce, ce_r = corruption_errors(errors, base_errors), corruption_errors(errors_r, base_errors_r)
    if outcomes.paired:
        rel = relative_corruption_errors(errors, clean, base_errors, base_clean)
        rel_r = relative_corruption_errors(errors_r, clean_r, base_errors_r, base_clean_r)
    else:  # a relative CE compares each image's clean and corrupted answers: undefined when unpaired
        rel, rel_r = np.full_like(ce, np.nan, dtype=np.float64), np.full_like(ce_r, np.nan, dtype=np.float64)
    # the baseline's own ratios are 1 in every resample where they are defined
    ce_unbounded = unbounded_ratio(np.sum(base_errors_r, axis=1)) & (model != baseline)
    rel_unbounded = unbounded_ratio(accuracy_lost(base_errors_r, base_clean_r)) & (model != baseline)
    n = outcomes.n_images
    per_corruption = {
        c: {"ce": figure(ce[i], percentile_interval(ce_r[i]), n, bool(ce_unbounded[i])),
            "relative_ce": figure(rel[i], percentile_interval(rel_r[i]), n, bool(rel_unbounded[i]))}
        for i, c in enumerate(corruptions)
    }
    return {
        "per_corruption": per_corruption,
        "mce": figure(mean_over_corruptions(ce), percentile_interval(mean_over_corruptions(ce_r)), n,
                      bool(np.any(ce_unbounded[np.isfinite(ce)]))),
        "relative_mce": figure(mean_over_corruptions(rel), percentile_interval(mean_over_corruptions(rel_r)), n,
                               bool(np.any(rel_unbounded[np.isfinite(rel)]))),
        "relative_mce_corruptions": int(np.isfinite(rel).sum()),
    }


def per_severity(outcomes: Outcomes, model: str, corruptions: list[str]) -> dict[str, dict | None]:
    severities = sorted({s for c, s in zip(outcomes.corruptions, outcomes.severities) if c in corruptions})
    return {str(s): mean_accuracy(outcomes, model, [i for i, (c, sev) in enumerate(
        zip(outcomes.corruptions, outcomes.severities)) if c in corruptions and sev == s]) for s in severities}


def clean_only_requests(outcomes: Outcomes) -> int:
    """Clean images measured beyond the grid's share of them."""
    return 0 if outcomes.clean_all is None else outcomes.clean_all.n_images - outcomes.n_images


def clean_only_failures(outcomes: Outcomes, model: str) -> int:
    if outcomes.clean_all is None:
        return 0
    return int(outcomes.clean_all.failed[model].sum()) - int(outcomes.failed[model][outcomes.cell_index(CLEAN, 0)].sum())


def summarise_model(outcomes: Outcomes, model: str, baseline: str, weights: np.ndarray,
                    calibration: ModelCalibration | None = None) -> dict:
    benchmark, extra, cbar = families_present(outcomes)
    seen_ce = corruption_error_figures(outcomes, model, baseline, benchmark, weights)
    unseen_ce = corruption_error_figures(outcomes, model, baseline, extra, weights)
    cbar_ce = corruption_error_figures(outcomes, model, baseline, cbar, weights)
    per_corruption = {}
    for c in benchmark + extra + cbar:
        errors = (seen_ce if c in benchmark else unseen_ce if c in extra else cbar_ce)["per_corruption"].get(c, {})
        per_corruption[c] = {"accuracy": mean_accuracy(outcomes, model, outcomes.cells_of([c])),
                             "ce": errors.get("ce"), "relative_ce": errors.get("relative_ce")}
    return {
        "clean": clean_accuracy(outcomes, model),
        "benchmark_mean": mean_accuracy(outcomes, model, outcomes.cells_of(benchmark)),
        "extra_mean": mean_accuracy(outcomes, model, outcomes.cells_of(extra)),
        "mce": seen_ce["mce"],
        "relative_mce": seen_ce["relative_mce"],
        "unseen_mce": unseen_ce["mce"],
        "unseen_relative_mce": unseen_ce["relative_mce"],
        "cbar_mean": mean_accuracy(outcomes, model, outcomes.cells_of(cbar)),
        "cbar_mce": cbar_ce["mce"],
        "per_corruption": per_corruption,
        "per_severity": per_severity(outcomes, model, benchmark),
        "difference_to_baseline": paired_differences(outcomes, model, baseline),
        "failed_requests": int(outcomes.failed[model].sum()) + clean_only_failures(outcomes, model),
        "requests": int(outcomes.failed[model].size) + clean_only_requests(outcomes),
        "failures_by_status": outcomes.failures_by_status.get(model, {}),
        "calibration": None if calibration is None else calibration_summary(outcomes, model, calibration),
    }


def summarise(outcomes: Outcomes, baseline: str = BASELINE_MODEL, resamples: int = 1000, seed: int = 0,
              calibrations: dict[str, ModelCalibration | None] | None = None) -> dict:
    """model -> summary; CE figures are None when the baseline model was not part of the run.
    `calibrations` (from model_calibration) are computed here when not given."""
    weights = bootstrap_weights(outcomes.n_images, resamples, seed)
    if calibrations is None:
        calibrations = {m: model_calibration(outcomes, m, resamples, seed) for m in outcomes.models}
    return {model: summarise_model(outcomes, model, baseline, weights, calibrations.get(model))
            for model in outcomes.models}


def format_table(summary: dict[str, dict], n_per_cell: int, n_clean: int | None = None,
                 baseline: str = BASELINE_MODEL) -> str:
    """The console table: every figure with its 95% interval."""
    def pct(fig: dict | None) -> str:
        if fig is None:
            return "n/a"
        low, high = fig["ci95"]
        if low is None:  # a ratio whose interval has no bound: its value means nothing at this n
            return f"{'not estimable':>18}"
        return f"{100 * fig['value']:5.1f} [{100 * low:4.1f}-{100 * high:5.1f}]"

    with_cbar = any(s.get("cbar_mean") for s in summary.values())
    head = (f"{'model':<18} {'clean %':>18} {'15 benchmark %':>18} {'4 unseen %':>18} "
            + (f"{'C-bar %':>18} " if with_cbar else "") + f"{'mCE %':>19} {'rel. mCE %':>19} {'failed':>6}")
    lines = [head]
    for model, s in summary.items():
        cbar = f"{pct(s.get('cbar_mean')):>18} " if with_cbar else ""
        lines.append(f"{model:<18} {pct(s['clean']):>18} {pct(s['benchmark_mean']):>18} {pct(s['extra_mean']):>18} "
                     f"{cbar}{pct(s['mce']):>19} {pct(s['relative_mce']):>19} {s['failed_requests']:>6}")
    clean_note = "" if n_clean in (None, n_per_cell) else f", {n_clean} in the clean cell"
    lines.append(f"(n = {n_per_cell} test images per corrupted cell{clean_note}; [95% interval]; a failed request "
                 f"counts as wrong; mCE against {baseline}; per-cell figures in accuracy.csv)")
    calibrated = {m: s["calibration"] for m, s in summary.items() if s.get("calibration")}
    if calibrated:
        lines.append("\ncalibration: ECE % (15 bins) and NLL (nats) over the answers [95% interval]")
        lines.append(f"{'model':<18} {'clean ECE':>18} {'clean NLL':>18} {'15 benchmark ECE':>18} {'15 benchmark NLL':>18}")
        for model, c in calibrated.items():
            bench = c.get("benchmark_mean") or {}
            lines.append(f"{model:<18} {pct(c['clean']['ece']):>18} {nats(c['clean']['nll']):>18} "
                         f"{pct(bench.get('ece')):>18} {nats(bench.get('nll')):>18}")
    differences = {m: s["difference_to_baseline"] for m, s in summary.items() if s.get("difference_to_baseline")}
    if differences:
        lines.append(f"\npaired difference to {baseline}, points (same images; [95% interval])")
        lines.append(f"{'model':<18} {'clean':>20} {'15 benchmark':>20} {'4 unseen':>20}"
                     + (f" {'C-bar':>20}" if with_cbar else ""))
        for model, d in differences.items():
            cbar = f" {points(d.get('cbar_mean')):>20}" if with_cbar else ""
            lines.append(f"{model:<18} {points(d['clean']):>20} {points(d['benchmark_mean']):>20} "
                         f"{points(d['extra_mean']):>20}{cbar}")
    return "\n".join(lines)


def nats(fig: dict | None) -> str:
    if fig is None:
        return "n/a"
    low, high = fig["ci95"]
    return f"{fig['value']:.3f} [{low:.3f}-{high:.3f}]"


def points(fig: dict | None) -> str:
    """A difference figure in percentage points with its interval, e.g. '+3.1 [+1.9, +4.3]'."""
    if fig is None:
        return "n/a"
    low, high = fig["ci95"]
    return f"{100 * fig['value']:+.1f} [{100 * low:+.1f}, {100 * high:+.1f}]"
