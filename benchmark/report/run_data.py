"""One benchmark run folder (reports/<timestamp>/), read back from the files `python -m benchmark` wrote."""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass, field
from pathlib import Path

from ..load.latency import LatencyRow, read_latency_rows


class RunFolderError(RuntimeError):
    pass


@dataclass
class RunData:
    folder: Path
    summary: dict  # summary.json
    accuracy_rows: list[dict] = field(default_factory=list)  # accuracy.csv, one dict per model x cell
    latency_rows: list[LatencyRow] = field(default_factory=list)  # latency/latency.csv
    calibration_rows: list[dict] = field(default_factory=list)  # calibration.csv
    reliability_rows: list[dict] = field(default_factory=list)  # reliability.csv

    @property
    def accuracy(self) -> dict:
        return self.summary.get("accuracy") or {}

    @property
    def model_summaries(self) -> dict[str, dict]:
        return self.accuracy.get("models") or {}

    @property
    def latency(self) -> dict:
        return self.summary.get("latency") or {}

    def locust_reports(self) -> list[Path]:
        return sorted((self.folder / "latency").glob("locust_*.html"))


def read_rows_csv(path: Path, text: tuple[str, ...] = ("model", "corruption", "cells"),
                  integers: tuple[str, ...] = ("severity", "n", "correct", "failed", "count")) -> list[dict]:
    """A long-form CSV of a run, its columns typed: names stay text, counts become ints, the rest floats."""
    if not path.is_file():
        return []
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    for row in rows:
        for key, value in row.items():
            if key not in text:
                row[key] = int(value) if key in integers else float(value)
    return rows


def load_run(folder: Path) -> RunData:
    summary_path = folder / "summary.json"
    if not summary_path.is_file():
        raise RunFolderError(f"{folder} holds no summary.json: run `make benchmark` (python -m benchmark) first")
    summary = json.loads(summary_path.read_text())
    accuracy_csv, latency_csv = folder / "accuracy.csv", folder / "latency" / "latency.csv"
    return RunData(folder, summary,
                   read_rows_csv(accuracy_csv),
                   read_latency_rows(latency_csv) if latency_csv.is_file() else [],
                   read_rows_csv(folder / "calibration.csv"), read_rows_csv(folder / "reliability.csv"))


def latest_run(reports: Path) -> Path:
    """The run folder under reports/ whose summary.json was written last."""
    runs = sorted(reports.glob("*/summary.json"), key=lambda p: p.stat().st_mtime)
    if not runs:
        raise RunFolderError(f"no benchmark run under {reports}: run `make benchmark` first")
    return runs[-1].parent
