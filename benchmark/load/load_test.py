"""Locust, headless, at several concurrency levels against one model: one Locust process per stage.

A stage is `users` closed-loop users sending requests back to back for `seconds` (statistics reset
once every user is running, so the ramp-up is not measured). Each stage leaves Locust's CSVs and
HTML report in the output folder; this module reads the aggregated line of the stats CSV.
"""

from __future__ import annotations

import csv
import os
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from robustcifar.paths import project_root
from robustcifar.serving.auth import KEY_ENV
from robustcifar.serving.protocols import PREDICTIONS, describe

from .request_bodies import write_bodies

LOCUSTFILE = Path(__file__).with_name("locustfile.py")


class LoadTestError(RuntimeError):
    pass


@dataclass
class StageResult:
    """Locust's aggregated figures for one model at one concurrency level (times in ms)."""

    model: str
    users: int
    seconds: float
    requests: int
    failures: int
    requests_per_s: float
    mean_ms: float
    p50_ms: float
    p95_ms: float
    p99_ms: float
    max_ms: float
    failure_kinds: dict[str, int] = field(default_factory=dict)  # Locust's error text -> occurrences

    @property
    def in_flight(self) -> float:
        """Little's law: the concurrency the server actually saw (at most `users`)."""
        return self.requests_per_s * self.mean_ms / 1000.0


def write_image_bodies(images: np.ndarray, path: Path, protocol=PREDICTIONS) -> Path:
    """Encode the requests once, in `protocol` (one PNG each, or v2 batches), into the file every Locust
    user reads."""
    step = protocol.images_per_request
    requests = [protocol.request(images[i:i + step]) for i in range(0, len(images) - step + 1, step)]
    if not requests:
        raise LoadTestError(f"{len(images)} images make no request of {step}")
    return write_bodies([body for body, _ in requests], path, requests[0][1], describe(protocol))


def locust_command(url: str, model: str, users: int, seconds: float, bodies: Path, prefix: Path) -> list[str]:
    return [
        sys.executable, "-m", "locust", "-f", str(LOCUSTFILE), "--headless", "--host", url,
        "-u", str(users), "-r", str(users), "-t", f"{max(1, round(seconds))}s", "--reset-stats",
        "--csv", str(prefix), "--html", f"{prefix}.html", "--only-summary", "--loglevel", "WARNING",
        "--stop-timeout", "10", "--robustcifar-model", model, "--robustcifar-bodies", str(bodies),
    ]


def read_aggregated(stats_csv: Path) -> dict[str, str]:
    with open(stats_csv, newline="") as f:
        for row in csv.DictReader(f):
            if row.get("Name") == "Aggregated":
                return row
    raise LoadTestError(f"{stats_csv} has no Aggregated line")


def read_failures(failures_csv: Path) -> dict[str, int]:
    if not failures_csv.is_file():
        return {}
    with open(failures_csv, newline="") as f:
        return {row["Error"]: int(row["Occurrences"]) for row in csv.DictReader(f)}


def stage_result(model: str, users: int, seconds: float, stats_csv: Path, failures_csv: Path) -> StageResult:
    row = read_aggregated(stats_csv)

    def number(column: str) -> float:
        value = row.get(column, "")
        return float(value) if value not in ("", "N/A") else float("nan")

    return StageResult(model, users, seconds, int(number("Request Count")), int(number("Failure Count")),
                       number("Requests/s"), number("Average Response Time"), number("50%"), number("95%"),
                       number("99%"), number("Max Response Time"), read_failures(failures_csv))


def run_stage(url: str, model: str, users: int, seconds: float, bodies: Path, out_dir: Path,
              token: str | None = None, label: str = "") -> StageResult:
    prefix = out_dir / f"locust_{model}{f'_{label}' if label else ''}_u{users}"
    command = locust_command(url, model, users, seconds, bodies, prefix)
    env = {**os.environ, KEY_ENV: token} if token else None
    try:
        # Locust exits with 1 when some requests failed; the failures are in the CSV and reported.
        done = subprocess.run(command, cwd=project_root(), capture_output=True, text=True,
                              timeout=seconds + 60, check=False, env=env)
    except subprocess.TimeoutExpired:
        raise LoadTestError(f"Locust did not finish the {model} stage with {users} users") from None
    stats = Path(f"{prefix}_stats.csv")
    if done.returncode not in (0, 1) or not stats.is_file():
        tail = (done.stderr or done.stdout).strip().splitlines()[-5:]
        raise LoadTestError(f"Locust failed ({done.returncode}) on {model} with {users} users: " + " | ".join(tail))
    return stage_result(model, users, seconds, stats, Path(f"{prefix}_failures.csv"))
