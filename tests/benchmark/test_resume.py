"""A benchmark run stopped part way by a real signal keeps every cell it measured, and `--resume`
sends only the cells it had not recorded: the resumed run's figures equal an uninterrupted run's."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from benchmark.accuracy.cell_store import CellRecord, CellStore
from benchmark.accuracy.outcomes import Outcomes
from robustcifar.artifacts import ModelMeta
from robustcifar.classes import CLASS_NAMES
from robustcifar.errors import UsageError

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[2]
CELLS = 1 + 3 * 5  # clean + fog, contrast, pixelate x 5 severities


def benchmark_args(url: str, data: Path, out: Path) -> list[str]:
    return ["--url", url, "--models", "slow", "--no-latency", "--per-class", "1", "--corruptions", "fog", "contrast",
            "pixelate", "--data", str(data), "--data-dir", str(out.parent / "data"), "--concurrency", "1",
            "--bootstrap", "50", "--no-progress", "--artifacts", str(out.parent / "artifacts")]


def run_benchmark(args: list[str]) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "benchmark", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=300, check=False)


def stub_model(out: Path) -> None:
    """The stub's model `slow`, known to the benchmark as an imported classifier."""
    ModelMeta(name="slow", kind="classifier", class_names=list(CLASS_NAMES), output_name="logits",
              onnx_sha256="stub", imported={"source": "the test's stub server"}).save(
        out.parent / "artifacts" / "slow" / "meta.json")


@pytest.mark.parametrize("signum", [signal.SIGKILL, signal.SIGTERM])
def test_a_stopped_run_resumes_with_only_the_missing_cells(signum, stub_server, tiny_image_folder, tmp_path):
    url, counts = stub_server
    whole = tmp_path / "whole"
    stub_model(whole)
    done = run_benchmark([*benchmark_args(url, tiny_image_folder, whole), "--out", str(whole)])
    assert done.returncode == 0, done.stderr[-2000:]
    sent_whole = counts["slow"]
    assert sent_whole == 10 * CELLS

    counts.clear()
    stopped = tmp_path / "stopped"
    process = subprocess.Popen([sys.executable, "-m", "benchmark", *benchmark_args(url, tiny_image_folder, stopped),
                                "--out", str(stopped)], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True)
    cells = stopped / "cells"
    deadline = time.monotonic() + 120
    while len(list(cells.glob("*-s*.npz"))) < 3:
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline
        time.sleep(0.02)
    os.kill(process.pid, signum)
    _, stderr = process.communicate(timeout=60)
    if signum == signal.SIGTERM:
        assert process.returncode == 143 and "--resume" in stderr and "Traceback" not in stderr
    recorded = sorted(p.name for p in cells.glob("*-s*.npz"))
    assert 3 <= len(recorded) < CELLS and not list(cells.glob("*.tmp*"))

    counts.clear()
    resumed = run_benchmark([*benchmark_args(url, tiny_image_folder, stopped), "--resume", str(stopped)])
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert f"{len(recorded)} of {CELLS} cells are recorded" in resumed.stdout
    assert counts["slow"] == 10 * (CELLS - len(recorded))  # nothing recorded was sent again
    a, b = Outcomes.load(whole / "outcomes.npz"), Outcomes.load(stopped / "outcomes.npz")
    assert a.corruptions == b.corruptions and np.array_equal(a.predicted["slow"], b.predicted["slow"])
    assert (whole / "accuracy.csv").read_text() == (stopped / "accuracy.csv").read_text()
    summary = json.loads((stopped / "summary.json").read_text())
    assert summary["accuracy"]["models"]["slow"] == json.loads((whole / "summary.json").read_text())[
        "accuracy"]["models"]["slow"]


def test_a_server_that_dies_stops_the_run_and_keeps_what_was_measured(stoppable_stub, tiny_image_folder, tmp_path):
    url, _, stop = stoppable_stub
    out = tmp_path / "dead"
    stub_model(out)
    process = subprocess.Popen([sys.executable, "-m", "benchmark", *benchmark_args(url, tiny_image_folder, out),
                                "--out", str(out), "--retries", "0"], cwd=ROOT, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while len(list((out / "cells").glob("*-s*.npz"))) < 2:
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline
        time.sleep(0.02)
    stop()
    _, stderr = process.communicate(timeout=120)
    assert process.returncode == 2 and "is the server still running" in stderr and "Traceback" not in stderr
    kept = list((out / "cells").glob("*-s*.npz"))
    assert len(kept) >= 2 and all(not CellRecord.load(p).failed["slow"].all() for p in kept)
    assert "--resume" in stderr


def test_resuming_with_other_settings_is_refused(tmp_path):
    CellStore(tmp_path, {"per_class": 1, "models": {"m": "abc"}})
    with pytest.raises(UsageError, match="differs in: per_class"):
        CellStore(tmp_path, {"per_class": 2, "models": {"m": "abc"}})


def test_a_cell_file_is_complete_or_absent(tmp_path):
    record = CellRecord("fog", 1, np.arange(3), np.arange(3))
    record.correct["m"], record.failed["m"] = np.array([True, False, True]), np.zeros(3, bool)
    record.predicted["m"], record.confidence["m"] = np.array([0, 1, 2], np.int16), np.ones(3, np.float32)
    record.true_probability["m"] = np.ones(3, np.float32)
    store = CellStore(tmp_path, {})
    store.save(record)
    back = store.load("fog", 1)
    assert np.array_equal(back.predicted["m"], record.predicted["m"]) and not list(store.folder.glob("*.tmp*"))
    assert store.load("fog", 2) is None
