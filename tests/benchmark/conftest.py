"""Stand-ins for what the benchmark talks to and reads, so its tests need no server and no trained model:
a synthetic run folder, a stub inference server, a tiny ONNX model."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import ClassVar

import numpy as np
import pytest
from fakeserving import LocalHTTPServer
from PIL import Image

from benchmark.accuracy.measure import AccuracyRow, accuracy_rows
from benchmark.accuracy.outcomes import CLEAN, Outcomes
from benchmark.accuracy.summary import summarise
from benchmark.load.latency import LatencyRow
from benchmark.rows_csv import write_rows_csv
from robustcifar.classes import CLASS_NAMES
from robustcifar.corruptions import ALL_CORRUPTIONS, SEVERITIES
from robustcifar.model_specs import MODEL_NAMES

N_IMAGES = 40


def synthetic_outcomes(seed: int = 0) -> Outcomes:
    """Four models whose accuracy falls with severity; the corrupted-trained ones fall less."""
    rng = np.random.default_rng(seed)
    cells = [(CLEAN, 0)] + [(c, s) for c in ALL_CORRUPTIONS for s in SEVERITIES]
    labels = np.repeat(np.arange(10), N_IMAGES // 10)
    outcomes = Outcomes([c for c, _ in cells], [s for _, s in cells], labels)
    for k, model in enumerate(MODEL_NAMES):
        drop = 0.06 if "corrupted" in model else 0.11
        p = np.array([0.85 - 0.03 * k - drop * s for _, s in cells]).clip(0.05, 1)
        outcomes.correct[model] = rng.random((len(cells), N_IMAGES)) < p[:, None]
        outcomes.failed[model] = np.zeros_like(outcomes.correct[model])
    outcomes.failed["angular"][3, :2] = True
    outcomes.correct["angular"][3, :2] = False
    outcomes.failures_by_status = {"angular": {"HTTP 503": 2}}
    return outcomes


def write_png(path: Path, size=(320, 200), colour=(40, 120, 200)) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", size, colour).save(path)


def write_training_outputs(artifacts: Path) -> None:
    for model in MODEL_NAMES:
        train = artifacts / model / "train"
        train.mkdir(parents=True, exist_ok=True)
        final = {"val_accuracy": 0.61, "val_corrupted_accuracy": 0.52, "test_accuracy": 0.6, "test_corrupted_accuracy": 0.45, "n_val": 1000,
                 "n_test": 1000}
        (train / "metrics.json").write_text(json.dumps({"model": model, "final": final, "history": []}))
        write_png(train / "curves.png")
        write_png(train / "umap.png", colour=(200, 90, 40))


def latency_rows() -> list[LatencyRow]:
    rows = []
    for model in ("ce_clean", "angular"):
        for users, rps in ((1, 40.0), (4, 90.0), (16, 110.0)):
            mean = 1000 * users / rps
            rows.append(LatencyRow(model, users, 15.0, int(rps * 15), 0, rps, users * 0.97, mean, mean * 0.9,
                                   mean * 1.6, mean * 2.2, mean * 3, 2.0, 2.5, 3.0, 900.0, mean * 0.45, mean * 0.64,
                                   mean * 0.73, rps / 900.0))
    return rows


def write_run(folder: Path, artifacts: Path) -> Path:
    outcomes = synthetic_outcomes()
    folder.mkdir(parents=True, exist_ok=True)
    write_rows_csv(accuracy_rows(outcomes), AccuracyRow, folder / "accuracy.csv")
    outcomes.save(folder / "outcomes.npz")
    write_rows_csv(latency_rows(), LatencyRow, folder / "latency" / "latency.csv")
    (folder / "latency" / "locust_ce_clean_u1.html").write_text("<html><body>locust report</body></html>")
    write_training_outputs(artifacts)
    baseline = [{"batch_size": 1, "calls": 100, "images_per_s": 500.0, "p50_ms": 2.0, "p95_ms": 2.5, "p99_ms": 3.0,
                 "mean_ms": 2.1}, {"batch_size": 16, "calls": 50, "images_per_s": 900.0, "p50_ms": 17.0,
                                   "p95_ms": 18.0, "p99_ms": 19.0, "mean_ms": 17.5}]
    summary = {
        "profile": "quick", "url": "http://127.0.0.1:9", "data_source": "synthetic", "data_source_kind": "synthetic",
        "seconds": {"accuracy": 1.0, "latency": 2.0},
        "model_files": {m: {"onnx_sha256": "ab" * 32, "kind": "classifier", "mar_sha256": None} for m in MODEL_NAMES},
        "accuracy": {"models": summarise(outcomes, resamples=200), "n_per_cell": N_IMAGES, "baseline_model": "ce_clean",
                     "cifar10c": "generated on the fly (seeded)"},
        "latency": {"models": ["ce_clean", "angular"], "users": [1, 4, 16], "stage_seconds": 15.0,
                    "onnxruntime": {"ce_clean": baseline, "angular": baseline}, "failure_kinds": {}},
        "run": {"git_commit": "0" * 40, "command": "python -m benchmark --profile quick",
                "hardware": {"cpu": "test CPU", "cpu_cores": 2}, "finished_at": "now", "wall_seconds": 3.0},
    }
    (folder / "summary.json").write_text(json.dumps(summary))
    return folder


@pytest.fixture(scope="session")
def synthetic_run(tmp_path_factory) -> tuple[Path, Path]:
    """(run folder, artifacts folder) of a synthetic run, report not yet written."""
    root = tmp_path_factory.mktemp("synthetic_run")
    return write_run(root / "reports" / "20260101-000000", root / "artifacts"), root / "artifacts"



class StubPredictions(BaseHTTPRequestHandler):
    """A stand-in for the inference API. ce_clean always answers class 0 (10% accuracy on balanced
    images), `slow` too after 20 ms, angular answers 503, `bad` 400, and `flaky` drops the first
    connection of each body."""

    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go out in two writes: no 40 ms delayed-ACK stalls
    counts: ClassVar[Counter] = Counter()
    dropped: ClassVar[set] = set()
    dead: ClassVar[bool] = False  # set when the stub "dies": kept-alive connections are dropped too
    lock = threading.Lock()

    def log_message(self, *args) -> None:  # keep test output clean
        pass

    def answer(self, status: int, payload: dict) -> None:
        body = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        self.answer(200, {"status": "Healthy"})

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        if StubPredictions.dead:
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)
            return
        model = self.path.rsplit("/", 1)[-1]
        with self.lock:
            self.counts[model] += 1
            drop = model == "flaky" and body not in self.dropped
            self.dropped.add(body)
        if drop:
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)
            return
        if model == "slow":
            time.sleep(0.02)
        if model == "angular":
            self.answer(503, {"error": "unavailable", "detail": "stub"})
        elif model == "bad":
            self.answer(400, {"error": "bad_image", "detail": "stub"})
        else:
            probabilities = {name: (0.55 if i == 0 else 0.05) for i, name in enumerate(CLASS_NAMES)}
            self.answer(200, {"model": model, "class_id": 0, "label": "airplane", "confidence": 0.55,
                              "probabilities": probabilities})


def start_stub() -> tuple[LocalHTTPServer, threading.Thread]:
    StubPredictions.counts = Counter()
    StubPredictions.dropped = set()
    StubPredictions.dead = False
    server = LocalHTTPServer(("127.0.0.1", 0), StubPredictions)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    return server, thread


def stop_stub(server: LocalHTTPServer, thread: threading.Thread) -> None:
    server.shutdown()
    server.server_close()
    thread.join(5)


@pytest.fixture
def stub_server():
    """(base URL, request counter per model) of a threaded stub inference server on a free port."""
    server, thread = start_stub()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", StubPredictions.counts
    finally:
        stop_stub(server, thread)


@pytest.fixture
def stoppable_stub():
    """(base URL, request counter, stop()) of the stub server, for tests where the server goes away."""
    server, thread = start_stub()
    stopped = []

    def stop() -> None:
        if not stopped:
            stopped.append(True)
            StubPredictions.dead = True
            stop_stub(server, thread)

    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", StubPredictions.counts, stop
    finally:
        stop()


def write_tiny_onnx(path: Path) -> Path:
    """A valid model.onnx with our input contract: uint8 (batch, 32, 32, 3) -> (batch, 10) from the mean colour."""
    from onnx import TensorProto, helper, numpy_helper

    weights = numpy_helper.from_array(np.random.default_rng(0).normal(size=(3, 10)).astype(np.float32), "w")
    graph = helper.make_graph(
        [helper.make_node("Cast", ["pixels"], ["x"], to=TensorProto.FLOAT),
         helper.make_node("ReduceMean", ["x"], ["colour"], axes=[1, 2], keepdims=0),
         helper.make_node("MatMul", ["colour", "w"], ["logits"])],
        "tiny", [helper.make_tensor_value_info("pixels", TensorProto.UINT8, ["batch", 32, 32, 3])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["batch", 10])], [weights])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(model.SerializeToString())
    return path


@pytest.fixture
def tiny_onnx():
    """write_tiny_onnx, for tests that need a model.onnx somewhere."""
    return write_tiny_onnx
