"""Final evaluation under every corruption and severity (CIFAR-10-C style), in long form."""

from __future__ import annotations

import numpy as np
from tqdm import tqdm

from robustcifar.corruptions import (
    ALL_CORRUPTIONS,
    BENCHMARK_CORRUPTIONS,
    EXTRA_CORRUPTIONS,
    SEVERITIES,
    corrupt,
)
from robustcifar.datasets import balanced_subset
from robustcifar.model import RobustCifarNet

from .datasets import LabelledImages
from .evaluate import Evaluator


def corruption_table(
    model: RobustCifarNet, test: LabelledImages, evaluator: Evaluator, per_cell: int, seed: int, progress: bool
) -> list[dict]:
    """Rows (corruption, severity, n, accuracy) on a class-balanced `per_cell` images of `test`."""
    chosen = balanced_subset(test.labels.cpu().numpy(), max(1, per_cell // 10), seed)
    cell = test.subset(chosen)
    images, labels = cell.images, cell.labels
    evaluator.refresh(model)
    rows = []
    cells = [(name, severity) for name in ALL_CORRUPTIONS for severity in SEVERITIES]
    for name, severity in tqdm(cells, desc=f"{model.kind} corruption eval", disable=not progress, leave=False):
        corrupted = corrupt(images, name, severity, seed=seed)
        accuracy = evaluator.accuracy(model, corrupted, labels)
        rows.append({"corruption": name, "severity": severity, "n": len(labels), "accuracy": accuracy})
    return rows


def summarise_corruptions(rows: list[dict]) -> dict:
    def mean_of(names) -> float:
        values = [r["accuracy"] for r in rows if r["corruption"] in names]
        return float(np.mean(values)) if values else float("nan")

    return {
        "mean_benchmark_corruption_accuracy": mean_of(BENCHMARK_CORRUPTIONS),
        "mean_extra_corruption_accuracy": mean_of(EXTRA_CORRUPTIONS),
    }
