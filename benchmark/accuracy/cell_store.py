"""Every measured cell on disk the moment it is measured: a run stopped part way (a signal, a dead
server, an error) keeps what it measured, and `--resume <run folder>` sends only the cells it has
not recorded, so its figures equal an uninterrupted run's.

    <run>/cells/identity.json          what the cells were measured on (models and their files, the
                                       selection of test images, the data, the corruption source)
    <run>/cells/<corruption>-s<N>.npz  one cell: its images' labels and test indices, and per model
                                       correct, failed, predicted class, confidence, true-class probability

A cell file is written to a temporary name and renamed, so a file that exists is complete; a
resumed run refuses cells measured on anything else than what it would measure now.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from robustcifar.errors import UsageError

from .outcomes import CLEAN, CleanCell, Outcomes

PER_MODEL = ("correct", "failed", "predicted", "confidence", "true_probability")


@dataclass
class CellRecord:
    corruption: str
    severity: int
    labels: np.ndarray  # (n,)
    test_index: np.ndarray  # (n,), -1 where unknown
    shared_positions: np.ndarray | None = None  # the clean cell: where the grid's images are in it
    correct: dict[str, np.ndarray] = field(default_factory=dict)  # bool (n,)
    failed: dict[str, np.ndarray] = field(default_factory=dict)  # bool (n,)
    predicted: dict[str, np.ndarray] = field(default_factory=dict)  # int16 (n,), -1: no answer
    confidence: dict[str, np.ndarray] = field(default_factory=dict)  # float32 (n,), NaN: no distribution
    true_probability: dict[str, np.ndarray] = field(default_factory=dict)  # float32 (n,)
    statuses: dict[str, dict[str, int]] = field(default_factory=dict)  # failure kind -> count
    answered_by: dict[str, dict[str, int]] = field(default_factory=dict)  # served sha256 -> answers

    @property
    def models(self) -> list[str]:
        return list(self.correct)

    def save(self, path: Path) -> None:
        meta = {"corruption": self.corruption, "severity": self.severity, "models": self.models,
                "statuses": self.statuses, "answered_by": self.answered_by}
        arrays: dict[str, Any] = {"meta": np.array(json.dumps(meta)), "labels": self.labels,
                                  "test_index": self.test_index}
        if self.shared_positions is not None:
            arrays["shared_positions"] = self.shared_positions
        for i, model in enumerate(self.models):
            for name in PER_MODEL:
                arrays[f"{name}_{i}"] = getattr(self, name)[model]
        tmp = path.with_name(path.name + ".tmp.npz")
        np.savez_compressed(tmp, **arrays)
        os.replace(tmp, path)

    @classmethod
    def load(cls, path: Path) -> CellRecord:
        with np.load(path) as f:
            meta = json.loads(str(f["meta"]))
            record = cls(meta["corruption"], int(meta["severity"]), f["labels"], f["test_index"],
                         f.get("shared_positions", None),
                         statuses=meta["statuses"], answered_by=meta["answered_by"])
            for i, model in enumerate(meta["models"]):
                for name in PER_MODEL:
                    getattr(record, name)[model] = f[f"{name}_{i}"]
        return record


class CellStore:
    def __init__(self, run_folder: Path, identity: dict[str, Any]) -> None:
        self.folder = Path(run_folder) / "cells"
        self.identity = json.loads(json.dumps(identity))  # as it reads back from disk
        self.folder.mkdir(parents=True, exist_ok=True)
        saved_path = self.folder / "identity.json"
        if saved_path.is_file():
            saved = json.loads(saved_path.read_text())
            changed = sorted(k for k in set(saved) | set(self.identity) if saved.get(k) != self.identity.get(k))
            if changed:
                raise UsageError(f"{self.folder.parent} holds cells measured with other settings (differs in: "
                                 f"{', '.join(changed)}): resume it with the options it was started with, or "
                                 "start a new run")
        else:
            saved_path.write_text(json.dumps(self.identity, indent=2) + "\n")

    def path(self, corruption: str, severity: int) -> Path:
        return self.folder / f"{corruption}-s{severity}.npz"

    def load(self, corruption: str, severity: int) -> CellRecord | None:
        path = self.path(corruption, severity)
        return CellRecord.load(path) if path.is_file() else None

    def save(self, record: CellRecord) -> None:
        record.save(self.path(record.corruption, record.severity))

    def count(self) -> int:
        return len(list(self.folder.glob("*-s*.npz")))


def assemble(records: list[CellRecord], paired: bool) -> Outcomes:
    """The run's Outcomes from its cells (clean first). Cells may differ in size from the clean one (a
    clean cell on more images holds the grid's in `shared_positions`); the corrupted cells share one size."""
    clean, corrupted = records[0], records[1:]
    models = clean.models
    shared = clean.shared_positions

    def grid_row(record: CellRecord, name: str, model: str) -> np.ndarray:
        values = getattr(record, name)[model]
        return values[shared] if record is clean and shared is not None else values

    sizes = {len(r.labels) for r in corrupted} | {len(clean.labels) if shared is None else len(shared)}
    if len(sizes) > 1:
        raise UsageError(f"the cells hold different numbers of images ({sorted(sizes)}): they cannot form one grid")
    labels = clean.labels if shared is None else clean.labels[shared]
    test_index = clean.test_index if shared is None else clean.test_index[shared]
    outcomes = Outcomes([r.corruption for r in records], [r.severity for r in records], labels, paired=paired,
                        test_index=test_index)
    for name in PER_MODEL:
        getattr(outcomes, name).update({m: np.stack([grid_row(r, name, m) for r in records]) for m in models})
    if shared is not None:
        outcomes.clean_all = CleanCell(clean.labels, test_index=clean.test_index,
                                       **{name: dict(getattr(clean, name)) for name in PER_MODEL})
    for model in models:
        outcomes.failures_by_status[model] = dict(sum((Counter(r.statuses.get(model, {})) for r in records), Counter()))
        outcomes.answered_by[model] = dict(sum((Counter(r.answered_by.get(model, {})) for r in records), Counter()))
    assert outcomes.corruptions[0] == CLEAN
    return outcomes
