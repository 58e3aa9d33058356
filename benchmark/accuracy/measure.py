"""Accuracy of every served model on clean and corrupted test images, through the HTTP endpoints."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import numpy as np
from tqdm import tqdm

from robustcifar.errors import UsageError

from .cell_store import CellRecord, CellStore, assemble
from .client import EndpointUnreachable, Prediction, PredictionClient
from .outcomes import CLEAN, Outcomes
from .statistics import wilson_interval
from .testsets import CellPlan, TestCells


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


def measure_cell(client: PredictionClient, models: list[str], plan: CellPlan, images: np.ndarray,
                 progress=None) -> CellRecord:
    """Send one cell's images to every model; a failed request counts as a wrong answer."""
    record = CellRecord(plan.corruption, plan.severity, np.asarray(plan.labels), np.asarray(plan.test_index),
                        plan.shared_positions)
    labels = np.asarray(plan.labels)
    for model in models:
        if progress is not None:
            progress.set_postfix(cell=f"{plan.corruption}/{plan.severity}", model=model)
        predictions = client.predict(model, images)
        if predictions and all(p.status == 0 for p in predictions):
            # nothing answered at all: the server is gone, and this cell is not a measurement
            raise EndpointUnreachable(f"no request of {plan.corruption}/{plan.severity} to {model} was answered "
                                      f"({predictions[0].error}): is the server still running?")
        if progress is not None:
            progress.update(len(images))
        predicted = np.array([-1 if p.class_id is None else p.class_id for p in predictions], dtype=np.int16)
        record.correct[model], record.failed[model] = predicted == labels, predicted == -1
        record.predicted[model] = predicted
        record.confidence[model], record.true_probability[model] = answer_calibration(predictions, labels)
        record.statuses[model] = dict(Counter(p.failure_kind for p in predictions if p.class_id is None))
        record.answered_by[model] = dict(Counter(p.model_sha256 or "unknown" for p in predictions
                                                 if p.class_id is not None))
    return record


def measure_accuracy(client: PredictionClient, models: list[str], cells: TestCells, show_progress: bool = True,
                     store: CellStore | None = None) -> Outcomes:
    """Every cell for every model, in plan order. With a `store`, each cell is saved as soon as it is
    measured, and cells it already holds (from a stopped run) are read back instead of sent."""
    if not cells.plan:
        raise UsageError("no test cells to measure")
    saved = {plan.key: store.load(*plan.key) if store else None for plan in cells.plan}
    for key, record in saved.items():
        if record is not None and set(record.models) != set(models):
            saved[key] = None  # measured for other models: measured again
    to_send = sum(plan.size for plan in cells.plan if saved[plan.key] is None) * len(models)
    records = []
    with tqdm(total=to_send, desc="accuracy (images sent)", unit="img", disable=not show_progress) as progress:
        for plan in cells.plan:
            record = saved[plan.key]
            if record is None:
                record = measure_cell(client, models, plan, cells.images(plan), progress)
                if store is not None:
                    store.save(record)
            records.append(record)
    return assemble(records, cells.pairing.paired)


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
