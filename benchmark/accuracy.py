"""Accuracy of every served model on clean and corrupted test images, through the HTTP endpoints."""

from __future__ import annotations

import csv
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from tqdm import tqdm

from robustcifar.corruptions import BENCHMARK_CORRUPTIONS, EXTRA_CORRUPTIONS
from robustcifar.imaging import encode_png

from .client import PredictionClient
from .statistics import wilson_interval
from .testsets import CLEAN, Cell


@dataclass
class AccuracyRow:
    model: str
    corruption: str
    severity: int
    n: int
    correct: int
    failed: int
    accuracy: float  # correct / n; a failed request counts as wrong
    ci95_low: float
    ci95_high: float


def score_cell(client: PredictionClient, model: str, cell: Cell, bodies: list[bytes], progress) -> AccuracyRow:
    predictions = client.predict_many(model, bodies, progress=False)
    progress.update(len(bodies))
    predicted = np.array([-1 if p.class_id is None else p.class_id for p in predictions])
    correct = int(np.sum(predicted == cell.labels))
    failed = sum(p.class_id is None for p in predictions)
    low, high = wilson_interval(correct, len(bodies))
    return AccuracyRow(model, cell.corruption, cell.severity, len(bodies), correct, failed,
                       correct / max(1, len(bodies)), low, high)


def measure_accuracy(client: PredictionClient, models: list[str], cells, n_cells: int, n_per_cell: int,
                     show_progress: bool = True) -> list[AccuracyRow]:
    rows = []
    total = n_cells * n_per_cell * len(models)
    with tqdm(total=total, desc="accuracy requests", unit="req", disable=not show_progress) as progress:
        for cell in cells:
            bodies = [encode_png(image) for image in cell.images]
            for model in models:
                rows.append(score_cell(client, model, cell, bodies, progress))
                progress.set_postfix(cell=f"{cell.corruption}/{cell.severity}", model=model)
    return rows


def write_rows(rows: list[AccuracyRow], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(AccuracyRow.__dataclass_fields__))
        writer.writeheader()
        writer.writerows(asdict(r) for r in rows)


def mean_accuracy(rows: list[AccuracyRow], corruptions) -> float | None:
    values = [r.accuracy for r in rows if r.corruption in corruptions]
    return float(np.mean(values)) if values else None


def summarise(rows: list[AccuracyRow]) -> dict[str, dict]:
    """Per model: clean accuracy, mean over the 15 benchmark and over the 4 extra corruptions."""
    summary = {}
    for model in dict.fromkeys(r.model for r in rows):
        mine = [r for r in rows if r.model == model]
        clean = [r for r in mine if r.corruption == CLEAN]
        summary[model] = {
            "clean_accuracy": clean[0].accuracy if clean else None,
            "mean_benchmark_corruption_accuracy": mean_accuracy(mine, BENCHMARK_CORRUPTIONS),
            "mean_extra_corruption_accuracy": mean_accuracy(mine, EXTRA_CORRUPTIONS),
            "failed_requests": sum(r.failed for r in mine),
            "requests": sum(r.n for r in mine),
        }
    return summary


def format_table(summary: dict[str, dict], n_per_cell: int) -> str:
    def pct(value) -> str:
        return "   n/a" if value is None else f"{100 * value:6.2f}"

    lines = [f"{'model':<20} {'clean %':>8} {'15 bench. corr. %':>18} {'4 extra corr. %':>16} {'failed':>7}"]
    for model, s in summary.items():
        lines.append(f"{model:<20} {pct(s['clean_accuracy']):>8} {pct(s['mean_benchmark_corruption_accuracy']):>18} "
                     f"{pct(s['mean_extra_corruption_accuracy']):>16} {s['failed_requests']:>7}")
    lines.append(f"({n_per_cell} test images per cell; each cell's 95% interval is in accuracy.csv)")
    return "\n".join(lines)
