"""The load generator (benchmark/load/http_load.py) and the figures of benchmark/load/serving_throughput.py,
against a small local HTTP server (no TorchServe), and the baseline measured in a fresh process on
a tiny model, at batch 1 and the server's batch size."""

from __future__ import annotations

import time
from http.server import BaseHTTPRequestHandler
from typing import ClassVar

import numpy as np
import onnx
import pytest
from fakeserving import local_http_server
from onnx import TensorProto, helper

from benchmark.load.http_load import (
    ANSWER_WITHOUT_LABEL,
    NO_ANSWER,
    BackgroundLoad,
    Sample,
    Target,
    failure_summary,
)
from benchmark.load.measure import LevelResult, measure_raw, window_result
from benchmark.load.serving_throughput import batch_counters, mean_batch, target_lines
from robustcifar.artifacts import ModelArtifacts
from robustcifar.serving.protocols import PREDICTIONS
from robustcifar.worker_settings import SERVING_BATCH_SIZE


class FakePredictions(BaseHTTPRequestHandler):
    """Answers POST /predictions/good after 5 ms, /predictions/nolabel with a 200 that is not a
    prediction, anything else with 400; counts the bodies it received. GET /metrics: batch counters."""

    protocol_version = "HTTP/1.1"  # keep-alive, as TorchServe's edge
    bodies: ClassVar[list[bytes]] = []

    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        FakePredictions.bodies.append(body)
        time.sleep(0.005)
        if self.path == "/predictions/good":
            self._answer(200, b'{"label": "cat", "class_id": 3}')
        elif self.path == "/predictions/nolabel":
            self._answer(200, b'{"label": "cat"}')  # no class_id: not a prediction
        else:
            self._answer(400, b'{"error": "bad", "detail": "x"}')

    def do_GET(self):
        self._answer(200, (
            b'# TYPE InferenceBatches counter\n'
            b'InferenceBatches{ModelName="good",Level="Model",Hostname="h"} 10.0\n'
            b'InferenceBatches{ModelName="other",Level="Model",Hostname="h"} 99.0\n'
            b'InferenceBatchImages{ModelName="good",Level="Model",Hostname="h"} 40.0\n'))

    def _answer(self, status: int, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def fake_server():
    with local_http_server(FakePredictions) as server:
        yield f"http://127.0.0.1:{server.server_address[1]}"


def run_load(url: str, concurrency: int, seconds: float) -> BackgroundLoad:
    load = BackgroundLoad(Target(url, b"png-bytes", valid=PREDICTIONS.is_valid), concurrency)
    load.start()
    time.sleep(seconds)
    load.stop()
    return load


def test_closed_loop_keeps_the_concurrency_and_records_every_answer(fake_server):
    FakePredictions.bodies = []
    load = run_load(f"{fake_server}/predictions/good", 4, 0.5)
    assert len(load.samples) == len(FakePredictions.bodies) > 20
    assert set(FakePredictions.bodies) == {b"png-bytes"}
    assert {s.status for s in load.samples} == {200}
    assert all(s.latency_s >= 0.005 for s in load.samples)
    # Never more than 4 requests in flight at once.
    events = sorted([(s.started, 1) for s in load.samples] + [(s.started + s.latency_s, -1) for s in load.samples],
                    key=lambda e: (e[0], e[1]))
    assert max(np.cumsum([e[1] for e in events])) <= 4


def test_errors_and_answers_without_a_label_are_failures(fake_server):
    assert {s.status for s in run_load(f"{fake_server}/predictions/bad", 1, 0.2).samples} == {400}
    assert {s.status for s in run_load(f"{fake_server}/predictions/nolabel", 1, 0.2).samples} == {ANSWER_WITHOUT_LABEL}
    closed = run_load("http://127.0.0.1:9/predictions/good", 1, 0.2)  # port 9: nothing listens
    assert closed.samples and {s.status for s in closed.samples} == {NO_ANSWER}


def test_window_result_counts_answers_inside_the_window():
    samples = [Sample(0.0, 0.5, 200),  # answered before the window
               Sample(0.9, 0.2, 200), Sample(1.2, 0.1, 200), Sample(1.5, 0.4, 200),  # inside
               Sample(1.8, 0.5, 200),  # sent inside, answered after
               Sample(1.3, 0.1, 503)]
    result = window_result(16, samples, 1.0, 2.0)
    assert result.per_second == pytest.approx(3.0)  # 0.9+0.2, 1.2+0.1, 1.5+0.4
    assert result.measured == 3 and result.failed == 1  # sent inside: 1.2, 1.5, 1.8 (+ the 503)
    assert result.p50_ms == pytest.approx(400.0)
    assert failure_summary(samples) == {503: 1}


def test_batch_counters_read_the_models_prometheus_lines(fake_server):
    assert batch_counters(fake_server, "good") == (10.0, 40.0)
    assert batch_counters("http://127.0.0.1:9", "good") is None
    assert mean_batch((10.0, 40.0), (14.0, 100.0)) == pytest.approx(15.0)
    assert mean_batch((10.0, 40.0), (10.0, 40.0)) is None


def test_target_lines_compare_the_matching_levels():
    raw = {1: LevelResult(1, 250.0, 4.0, 4, 4, 10), 8: LevelResult(8, 400.0, 40.0, 40, 40, 10)}
    endpoint = {1: LevelResult(1, 100.0, 10.0, 10, 10, 10), 16: LevelResult(16, 300.0, 50.0, 50, 50, 10)}
    throughput, latency = target_lines(raw, endpoint)
    assert "raw at batch 8" in throughput and "75%" in throughput and "NOT met" in throughput
    assert "6.00 ms" in latency and "NOT met" in latency
    endpoint[16].per_second, endpoint[1].p50_ms = 320.0, 8.0
    assert all(line.endswith(": met)") for line in target_lines(raw, endpoint))


def test_the_baseline_runs_in_a_fresh_process_at_the_servers_batch_size(tmp_path):
    # A tiny model with the real input signature: uint8 NHWC pixels -> 10 logits.
    pixels = helper.make_tensor_value_info("pixels", TensorProto.UINT8, ["batch", 32, 32, 3])
    logits = helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["batch", 10])
    weights = helper.make_tensor("w", TensorProto.FLOAT, [3, 10], np.ones(30, np.float32).tolist())
    graph = helper.make_graph([
        helper.make_node("Cast", ["pixels"], ["x"], to=TensorProto.FLOAT),
        helper.make_node("ReduceMean", ["x"], ["m"], axes=[1, 2], keepdims=0),
        helper.make_node("MatMul", ["m", "w"], ["logits"]),
    ], "tiny", [pixels], [logits], [weights])
    artifacts = ModelArtifacts(tmp_path, "tiny")
    artifacts.model_dir.mkdir()
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8), artifacts.onnx)
    results = measure_raw(artifacts, threads=1, seconds=0.3)
    assert sorted(results) == [1, SERVING_BATCH_SIZE] == [1, 8]
    for batch, result in results.items():
        assert result.level == batch and result.measured >= 5
        assert 0 < result.p50_ms <= result.p99_ms
