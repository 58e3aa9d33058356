"""Per-image outcomes of an accuracy run: which test image each model got right, in every cell.

Every cell (clean, or a corruption x severity) holds the same test images in the same order, so
column i is one test image under all its corruptions. The summary's intervals need that: the
images, not the predictions, are the independent units (see statistics.py). The clean cell may
also have been measured on more images (all 10,000 in the study profile): `clean_all` holds those,
and the grid's clean row is their share that the corrupted cells hold. For the calibration figures
each answer also leaves its confidence (the served probability of the predicted class) and the
probability it gave the true class; NaN where the answer carried no distribution. Saved as
outcomes.npz next to the long-form accuracy.csv, so the report can be rebuilt from the files alone.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

CLEAN = "clean"


@dataclass
class CleanCell:
    """The clean cell measured on more test images than the corrupted cells."""

    labels: np.ndarray  # (N,)
    correct: dict[str, np.ndarray] = field(default_factory=dict)  # model -> bool (N,)
    failed: dict[str, np.ndarray] = field(default_factory=dict)  # model -> bool (N,)
    confidence: dict[str, np.ndarray] = field(default_factory=dict)  # model -> float32 (N,), NaN: none
    true_probability: dict[str, np.ndarray] = field(default_factory=dict)  # model -> float32 (N,)
    predicted: dict[str, np.ndarray] = field(default_factory=dict)  # model -> int16 (N,), -1: no answer
    test_index: np.ndarray | None = None  # (N,) each image's index in the test set

    @property
    def n_images(self) -> int:
        return len(self.labels)


@dataclass
class Outcomes:
    corruptions: list[str]  # per cell: "clean" or a CIFAR-10-C name
    severities: list[int]  # per cell: 0 for clean, else 1-5
    labels: np.ndarray  # (n,) the true class of each test image
    correct: dict[str, np.ndarray] = field(default_factory=dict)  # model -> bool (cells, n)
    failed: dict[str, np.ndarray] = field(default_factory=dict)  # model -> bool (cells, n): no usable answer
    failures_by_status: dict[str, dict[str, int]] = field(default_factory=dict)  # model -> {"400": 3, ...}
    clean_all: CleanCell | None = None  # the clean cell on more images than the grid, when measured so
    confidence: dict[str, np.ndarray] = field(default_factory=dict)  # model -> float32 (cells, n), NaN: none
    true_probability: dict[str, np.ndarray] = field(default_factory=dict)  # model -> float32 (cells, n)
    answered_by: dict[str, dict[str, int]] = field(default_factory=dict)  # model -> {served sha256: answers}
    paired: bool = True  # the corrupted cells hold the clean cell's images (see testsets.check_pairing)
    predicted: dict[str, np.ndarray] = field(default_factory=dict)  # model -> int16 (cells, n), -1: no answer
    test_index: np.ndarray | None = None  # (n,) each column's index in the test set (-1: unknown, unpaired)

    @property
    def models(self) -> list[str]:
        return list(self.correct)

    @property
    def n_images(self) -> int:
        return len(self.labels)

    def cell_index(self, corruption: str, severity: int) -> int | None:
        for i, (c, s) in enumerate(zip(self.corruptions, self.severities)):
            if c == corruption and s == severity:
                return i
        return None

    def cells_of(self, corruptions) -> list[int]:
        """Indices of every cell whose corruption is in `corruptions`, in run order."""
        wanted = set(corruptions)
        return [i for i, c in enumerate(self.corruptions) if c in wanted]

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        arrays = {"corruptions": np.array(self.corruptions), "severities": np.array(self.severities),
                  "labels": self.labels, "models": np.array(self.models), "paired": np.array(self.paired)}
        for i, model in enumerate(self.models):
            arrays[f"correct_{i}"] = self.correct[model]
            arrays[f"failed_{i}"] = self.failed[model]
            if model in self.confidence:
                arrays[f"confidence_{i}"] = self.confidence[model]
                arrays[f"true_probability_{i}"] = self.true_probability[model]
            if model in self.predicted:
                arrays[f"predicted_{i}"] = self.predicted[model]
            if self.clean_all is not None and model in self.clean_all.predicted:
                arrays[f"clean_all_predicted_{i}"] = self.clean_all.predicted[model]
            if self.clean_all is not None:
                arrays[f"clean_all_correct_{i}"] = self.clean_all.correct[model]
                arrays[f"clean_all_failed_{i}"] = self.clean_all.failed[model]
                if model in self.clean_all.confidence:
                    arrays[f"clean_all_confidence_{i}"] = self.clean_all.confidence[model]
                    arrays[f"clean_all_true_probability_{i}"] = self.clean_all.true_probability[model]
        if self.clean_all is not None:
            arrays["clean_all_labels"] = self.clean_all.labels
            if self.clean_all.test_index is not None:
                arrays["clean_all_test_index"] = self.clean_all.test_index
        if self.test_index is not None:
            arrays["test_index"] = self.test_index
        np.savez_compressed(path, **arrays)

    @classmethod
    def load(cls, path: Path, failures_by_status: dict | None = None) -> Outcomes:
        with np.load(path) as f:
            models = [str(m) for m in f["models"]]

            def per_model(prefix: str, kind=None) -> dict[str, np.ndarray]:
                """{model: array} for the models that have `prefix`_<i> (runs before calibration had none)."""
                found = {m: f[f"{prefix}_{i}"] for i, m in enumerate(models) if f"{prefix}_{i}" in f}
                return {m: a.astype(kind) for m, a in found.items()} if kind else found

            clean_all = None
            if "clean_all_labels" in f:
                clean_all = CleanCell(f["clean_all_labels"], per_model("clean_all_correct", bool),
                                      per_model("clean_all_failed", bool), per_model("clean_all_confidence"),
                                      per_model("clean_all_true_probability"), per_model("clean_all_predicted"),
                                      f.get("clean_all_test_index", None))
            return cls([str(c) for c in f["corruptions"]], [int(s) for s in f["severities"]], f["labels"],
                       per_model("correct", bool), per_model("failed", bool), dict(failures_by_status or {}),
                       clean_all, per_model("confidence"), per_model("true_probability"),
                       paired=bool(f["paired"]) if "paired" in f else True, predicted=per_model("predicted"),
                       test_index=f.get("test_index", None))

    def clean_calibration(self, model: str) -> tuple[np.ndarray, np.ndarray] | None:
        """(confidence, true_probability) of `model` on every clean image measured, or None."""
        if self.clean_all is not None:
            if model not in self.clean_all.confidence:
                return None
            return self.clean_all.confidence[model], self.clean_all.true_probability[model]
        if model not in self.confidence:
            return None
        i = self.cell_index(CLEAN, 0)
        return self.confidence[model][i], self.true_probability[model][i]

    def clean_cell(self, model: str) -> tuple[np.ndarray, np.ndarray]:
        """(correct, failed) of `model` on every clean image measured: `clean_all` when there is one."""
        if self.clean_all is not None:
            return self.clean_all.correct[model], self.clean_all.failed[model]
        i = self.cell_index(CLEAN, 0)
        return self.correct[model][i], self.failed[model][i]
