"""One training run's per-image outcomes, as committed under results/<study>/runs/:

    <run>.npz   bench_*: every image the benchmark sent to the run's model, one row each: cell (index
                         into bench_cells, "clean-s0", "fog-s3", ...), test index, label, correct,
                         predicted class (-1: no answer), confidence;
                val_*, corrupted_val_*: the training run's own held-out validation images (index into
                         CIFAR-10's training set, label, predicted, confidence; the corrupted copy's
                         corruption, an index into BENCHMARK_CORRUPTIONS, and severity)
    <run>.json  what the run was: model, seed, epochs, its training metrics and history, config,
                commit, hardware and times, and how the benchmark measured it

Small (int16/uint8 columns, compressed) so every seed of every model can be committed, and the
study's tables rebuilt from them alone (benchmark/study/__main__.py).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from robustcifar.errors import UsageError
from robustcifar.model_specs import RunName
from robustcifar.provenance import write_json

from ..accuracy.outcomes import CLEAN, Outcomes

HELD_OUT = ("val", "corrupted_val")


def cell_name(corruption: str, severity: int) -> str:
    return f"{corruption}-s{severity}"


@dataclass
class RunOutcomes:
    name: str
    meta: dict[str, Any]
    bench_cells: list[str]
    bench: dict[str, np.ndarray]  # cell, test_index, label, correct, predicted, confidence
    held_out: dict[str, np.ndarray] = field(default_factory=dict)  # val_* and corrupted_val_*

    @property
    def run(self) -> RunName:
        parsed = RunName.parse(self.name)
        if parsed is None:
            raise ValueError(f"{self.name} is not a run of one of our models")
        return parsed

    @property
    def epochs(self) -> int:
        return int(self.meta["training"]["epochs"])

    def save(self, folder: Path) -> Path:
        folder.mkdir(parents=True, exist_ok=True)
        np.savez_compressed(folder / f"{self.name}.npz", bench_cells=np.array(self.bench_cells),
                            **{f"bench_{k}": v for k, v in self.bench.items()}, **self.held_out)
        write_json(folder / f"{self.name}.json", self.meta)
        return folder / f"{self.name}.npz"

    @classmethod
    def load(cls, npz: Path) -> RunOutcomes:
        with np.load(npz) as f:
            bench = {k.removeprefix("bench_"): f[k] for k in f if k.startswith("bench_") and k != "bench_cells"}
            held_out = {k: f[k] for k in f if k.split("_")[0] in ("val", "corrupted")}
            cells = [str(c) for c in f["bench_cells"]]
        meta = json.loads(npz.with_suffix(".json").read_text())
        return cls(npz.stem, meta, cells, bench, held_out)

    def merged_with(self, committed: RunOutcomes) -> tuple[RunOutcomes, list[str]]:
        """The committed record with this one's cells that it lacks (a later benchmark adding a family, as
        CIFAR-10-C-bar); the committed cells are kept as they are. -> (merged, the cells added)."""
        if self.name != committed.name:
            raise ValueError(f"cannot merge {self.name} into {committed.name}")
        ours, theirs = (r.meta.get("benchmark", {}).get("served_sha256") for r in (self, committed))
        if ours and theirs and ours != theirs:  # a retrained (or re-quantized) model under the same name
            raise UsageError(f"{self.name}: this benchmark measured another model file ({ours[0][:12]}) than the "
                             f"committed record's ({theirs[0][:12]}); its cells cannot join that record. To replace "
                             f"the run, remove results/study-cpu/runs/{self.name}.npz and .json and collect again")
        new = [c for c in self.bench_cells if c not in committed.bench_cells]
        if not new:
            return committed, []
        for shared in (c for c in self.bench_cells if c in committed.bench_cells):
            ours, theirs = self.cell_rows(shared), committed.cell_rows(shared)
            if not np.array_equal(np.sort(self.bench["test_index"][ours]), np.sort(committed.bench["test_index"][theirs])):
                raise UsageError(f"{self.name}: cell {shared} was measured on other test images than the committed "
                                 "one, so the new cells are not paired with it: measure with the committed settings")
        cells = committed.bench_cells + new
        rows = np.concatenate([self.cell_rows(c) for c in new])
        remap = {self.bench_cells.index(c): cells.index(c) for c in new}
        added = {k: v[rows] for k, v in self.bench.items()}
        added["cell"] = np.array([remap[int(i)] for i in added["cell"]], np.int16)
        bench = {k: np.concatenate([committed.bench[k], added[k]]) for k in committed.bench}
        meta = dict(committed.meta)
        meta["benchmark_more"] = [*committed.meta.get("benchmark_more", []),
                                  {**self.meta.get("benchmark", {}), "cells": new}]
        return RunOutcomes(self.name, meta, cells, bench, committed.held_out), new

    def cell_rows(self, name: str) -> np.ndarray:
        return np.flatnonzero(self.bench["cell"] == self.bench_cells.index(name))


def from_benchmark(name: str, outcomes: Outcomes, train_outcomes: dict[str, np.ndarray], meta: dict) -> RunOutcomes:
    """A run's rows out of a benchmark run's outcomes (every cell, the clean cell on all its images)
    and out of its training run's held-out outcomes (artifacts/<run>/train/outcomes.npz)."""
    cells, columns = [], {k: [] for k in ("cell", "test_index", "label", "correct", "predicted", "confidence")}

    def add(cell: str, test_index, labels, correct, predicted, confidence) -> None:
        cells.append(cell)
        columns["cell"].append(np.full(len(labels), len(cells) - 1, np.int16))
        columns["test_index"].append(np.asarray(test_index, np.int32))
        columns["label"].append(np.asarray(labels, np.uint8))
        columns["correct"].append(np.asarray(correct, bool))
        columns["predicted"].append(np.asarray(predicted, np.int8))
        columns["confidence"].append(np.asarray(confidence, np.float32))

    if outcomes.test_index is None or not outcomes.predicted:
        raise ValueError("the benchmark run predates per-image test indices and predictions: run it again")
    for i, (corruption, severity) in enumerate(zip(outcomes.corruptions, outcomes.severities)):
        if corruption == CLEAN and outcomes.clean_all is not None:
            clean = outcomes.clean_all
            add(cell_name(CLEAN, 0), clean.test_index, clean.labels, clean.correct[name], clean.predicted[name],
                clean.confidence[name])
        else:
            labels = outcomes.labels
            add(cell_name(corruption, severity), outcomes.test_index, labels, outcomes.correct[name][i],
                outcomes.predicted[name][i], outcomes.confidence[name][i])
    held_out = {}
    for part in HELD_OUT:
        for column in ("index", "label", "predicted", "confidence", "corruption", "severity"):
            key = f"{part}_{column}"
            if key in train_outcomes:
                kind = {"index": np.int32, "confidence": np.float32}.get(column, np.int8)
                held_out[key] = np.asarray(train_outcomes[key], kind)
    return RunOutcomes(name, meta, cells, {k: np.concatenate(v) for k, v in columns.items()}, held_out)


def load_runs(folder: Path) -> list[RunOutcomes]:
    """Every run committed under `folder` (runs/), sorted by model, seed, budget."""
    runs = [RunOutcomes.load(p) for p in sorted(Path(folder).glob("*.npz"))]
    return sorted(runs, key=lambda r: (r.run.model, r.run.int8, r.run.seed, r.epochs))
