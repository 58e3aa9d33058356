"""Accuracy of every served model on clean and corrupted test images, through the HTTP endpoints."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import numpy as np
from tqdm import tqdm

from robustcifar.errors import UsageError
from robustcifar.imaging import encode_png

from .client import Prediction, PredictionClient
from .outcomes import CLEAN, CleanCell, Outcomes
from .statistics import wilson_interval


@dataclass
class AccuracyRow:
    """One line of accuracy.csv: one model on one cell."""

    model: str
    corruption: str
    severity: int
    n: int
    correct: int
    failed: int
    accuracy: float  # correct / n; a failed request counts as wrong
    ci95_low: float
    ci95_high: float


def measure_accuracy(client: PredictionClient, models: list[str], cells, total_images: int,
                     show_progress: bool = True, paired: bool = True) -> Outcomes:
    """Send every cell's images to every model; a failed request counts as a wrong answer.

    `total_images` is the number of images in all cells together (for the progress bar).
    """
    outcomes: Outcomes | None = None
    correct: dict[str, list[np.ndarray]] = {m: [] for m in models}
    failed: dict[str, list[np.ndarray]] = {m: [] for m in models}
    confidence: dict[str, list[np.ndarray]] = {m: [] for m in models}
    true_probability: dict[str, list[np.ndarray]] = {m: [] for m in models}
    statuses: dict[str, Counter] = {m: Counter() for m in models}
    answered_by: dict[str, Counter] = {m: Counter() for m in models}
    with tqdm(total=total_images * len(models), desc="accuracy requests", unit="req",
              disable=not show_progress) as progress:
        for cell in cells:
            shared = cell.shared_positions
            if outcomes is None:
                labels = np.asarray(cell.labels)
                outcomes = Outcomes([], [], labels if shared is None else labels[shared])
                if shared is not None:
                    outcomes.clean_all = CleanCell(labels)
            outcomes.corruptions.append(cell.corruption)
            outcomes.severities.append(cell.severity)
            bodies = [encode_png(image) for image in cell.images]
            for model in models:
                progress.set_postfix(cell=f"{cell.corruption}/{cell.severity}", model=model)
                predictions = client.predict_many(model, bodies, progress=False)
                progress.update(len(bodies))
                predicted = np.array([-1 if p.class_id is None else p.class_id for p in predictions])
                right, no_answer = predicted == np.asarray(cell.labels), predicted == -1
                sure, given = answer_calibration(predictions, np.asarray(cell.labels))
                if shared is not None:
                    clean = outcomes.clean_all
                    clean.correct[model], clean.failed[model] = right, no_answer
                    clean.confidence[model], clean.true_probability[model] = sure, given
                    right, no_answer, sure, given = right[shared], no_answer[shared], sure[shared], given[shared]
                correct[model].append(right)
                failed[model].append(no_answer)
                confidence[model].append(sure)
                true_probability[model].append(given)
                statuses[model].update(p.failure_kind for p in predictions if p.class_id is None)
                answered_by[model].update(p.model_sha256 or "unknown" for p in predictions if p.class_id is not None)
    if outcomes is None:
        raise UsageError("no test cells to measure")
    outcomes.correct = {m: np.stack(correct[m]) for m in models}
    outcomes.failed = {m: np.stack(failed[m]) for m in models}
    outcomes.confidence = {m: np.stack(confidence[m]) for m in models}
    outcomes.true_probability = {m: np.stack(true_probability[m]) for m in models}
    outcomes.failures_by_status = {m: dict(statuses[m]) for m in models}
    outcomes.answered_by = {m: dict(answered_by[m]) for m in models}
    outcomes.paired = paired
    return outcomes


def answer_calibration(predictions: list[Prediction], labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """float32 (confidence in the predicted class, probability of the true class) per answer; NaN for
    a request without a distribution (failed, or an answer that carried none)."""
    sure = np.full(len(predictions), np.nan, np.float32)
    given = np.full(len(predictions), np.nan, np.float32)
    for i, (p, label) in enumerate(zip(predictions, labels)):
        if p.class_id is not None and p.probabilities is not None:
            sure[i], given[i] = p.probabilities[p.class_id], p.likelihoods[label]
    return sure, given


def accuracy_rows(outcomes: Outcomes) -> list[AccuracyRow]:
    """One row per model and cell; the clean row counts every clean image measured."""
    rows = []
    for model in outcomes.models:
        for i, (corruption, severity) in enumerate(zip(outcomes.corruptions, outcomes.severities)):
            right, no_answer = outcomes.clean_cell(model) if corruption == CLEAN else (
                outcomes.correct[model][i], outcomes.failed[model][i])
            n, correct = len(right), int(right.sum())
            low, high = wilson_interval(correct, n)
            rows.append(AccuracyRow(model, corruption, severity, n, correct, int(no_answer.sum()),
                                    correct / max(1, n), low, high))
    return rows
