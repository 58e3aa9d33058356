"""Real clients against a real TorchServe behind its nginx edge: every kind of bad input, wrong
methods and paths, handler failures, batching, metrics, the security settings, a killed worker.

One server per module (three tiny models, free ports, a temporary state folder). After each bad
request a good one must still be answered, and the workers that served the bad ones must be the
same processes at the end: nothing died.
"""

from __future__ import annotations

import io
import ipaddress
import os
import re
import signal
import socket
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import requests
from fakeforeign import colour_images
from fakeserving import Served, expected_answer, metrics_text, png, prometheus_value
from imagecases import BAD_REQUESTS, VALID_IMAGES
from liveserver import FAILING_MODEL, GOOD_MODELS, IMPORTED_CONTRACT, IMPORTED_MODEL
from PIL import Image

from robustcifar.classes import CLASS_NAMES

pytestmark = [pytest.mark.slow, pytest.mark.integration]

@pytest.fixture(scope="module")
def first_workers(served):
    """The worker pids before any bad request: the last input test checks they never changed."""
    return {name: [w["pid"] for w in served.workers(name)] for name in GOOD_MODELS}


def assert_same_answer(answer: dict, expected: dict) -> None:
    assert answer["model"] == expected["model"] and answer["label"] == expected["label"]
    assert answer["class_id"] == expected["class_id"]
    assert answer["confidence"] == pytest.approx(expected["confidence"], abs=1e-5)
    if "probabilities" in expected:
        assert answer["probabilities"] == pytest.approx(expected["probabilities"], abs=1e-5)
    else:
        assert answer["embedding"] == pytest.approx(expected["embedding"], abs=1e-5)


def test_an_imported_model_answers_as_onnxruntime_on_its_original_file(served):
    import onnxruntime as ort

    images, labels = colour_images(3, seed=11)
    session = ort.InferenceSession(str(served.artifacts.parent / "theirs.onnx"), providers=["CPUExecutionProvider"])
    theirs = session.run(None, {"input": IMPORTED_CONTRACT.preprocess(images)})[0]
    expected = theirs[:, [IMPORTED_CONTRACT.class_order.index(c) for c in CLASS_NAMES]]
    for image, label, probabilities in zip(images, labels, expected):
        body = io.BytesIO()
        Image.fromarray(image).save(body, format="PNG")
        response = requests.post(f"{served.url}/predictions/{IMPORTED_MODEL}", data=body.getvalue(), timeout=30)
        assert response.status_code == 200, response.text
        answer = response.json()
        assert answer["model"] == IMPORTED_MODEL and answer["class_id"] == label == int(np.argmax(probabilities))
        assert [answer["probabilities"][c] for c in CLASS_NAMES] == pytest.approx(probabilities.tolist(), abs=1e-5)


def assert_still_answers(served: Served) -> None:
    for name in GOOD_MODELS:
        response = served.predict(name, png(3))
        assert response.status_code == 200, response.text
        assert_same_answer(response.json(), expected_answer(served.artifacts, name, png(3)))


# ---- images: every mode a PNG or JPEG can carry is converted to RGB and answered ----

@pytest.mark.parametrize("kind", VALID_IMAGES)
def test_every_png_and_jpeg_mode_is_answered(served, first_workers, kind):
    body = VALID_IMAGES[kind]
    for name in GOOD_MODELS:
        response = served.predict(name, body)
        assert response.status_code == 200, response.text
        assert response.headers["Content-Type"].startswith("application/json")
        assert_same_answer(response.json(), expected_answer(served.artifacts, name, body))


def test_put_post_and_multipart_are_the_same_request(served):
    body = VALID_IMAGES["rgb_jpeg_resized"]
    expected = expected_answer(served.artifacts, "ce_clean", body)
    url = f"{served.url}/predictions/ce_clean"
    answers = [
        requests.put(url, data=body, timeout=30),  # curl -T
        requests.post(url, data=body, timeout=30, headers={"Content-Type": "application/x-www-form-urlencoded"}),
        requests.post(url, files={"data": ("x.jpg", body, "image/jpeg")}, timeout=30),  # curl -F data=@x.jpg
    ]
    for response in answers:
        assert response.status_code == 200, response.text
        assert_same_answer(response.json(), expected)


# ---- bad input: a JSON 400 (413 when too large) that says what was wrong; the worker survives ----

@pytest.mark.parametrize("kind", BAD_REQUESTS)
def test_bad_input_gets_a_json_error_and_the_worker_survives(served, first_workers, kind):
    options, status, error = BAD_REQUESTS[kind]
    response = requests.post(f"{served.url}/predictions/ce_clean", timeout=30, **options)
    assert response.status_code == status, response.text
    assert response.headers["Content-Type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"error", "detail"} and body["error"] == error and len(body["detail"]) > 10
    assert_still_answers(served)


def test_no_worker_died_answering_the_bad_inputs(served, first_workers):
    assert {name: [w["pid"] for w in served.workers(name)] for name in GOOD_MODELS} == first_workers


# ---- methods and paths ----

@pytest.mark.parametrize("method", ["GET", "DELETE", "PATCH", "OPTIONS"])
def test_wrong_method_is_a_json_405(served, method):
    response = requests.request(method, f"{served.url}/predictions/ce_clean", data=png(), timeout=30)
    assert response.status_code == 405
    assert response.headers["Allow"] == "POST, PUT"
    assert response.json()["error"] == "method_not_allowed"


def test_head_is_a_405_without_body(served):
    response = requests.head(f"{served.url}/predictions/ce_clean", timeout=30)
    assert response.status_code == 405 and response.content == b""


def test_unknown_model_is_torchserves_404(served):
    response = served.predict("no_such_model", png())
    assert response.status_code == 404
    assert response.json()["code"] == 404 and "no_such_model" in response.json()["message"]


@pytest.mark.parametrize("path", ["/", "/models", "/api-description", "/invocations", "/metrics",
                                  "/v1/models/ce_clean:predict", "/v2/repository/index"])
def test_paths_beyond_ping_and_predictions_are_not_served(served, path):
    response = requests.post(f"{served.url}{path}", data=png(), timeout=30)
    assert response.status_code == 404
    assert response.json()["error"] == "not_found"


def test_ping(served):
    response = requests.get(f"{served.url}/ping", timeout=30)
    assert response.status_code == 200 and response.json()["status"] == "Healthy"


# ---- a failure inside the handler: a JSON 500 per request, one log line with the request id ----

def test_handler_failure_is_a_500_logged_once_with_the_request_id(served):
    response = served.predict(FAILING_MODEL, png())
    assert response.status_code == 500
    body = response.json()
    assert body["error"] == "internal_error"
    request_id = re.search(r"request id ([0-9a-f-]{36})", body["detail"])[1]
    deadline = time.monotonic() + 10
    while request_id not in served.model_log() and time.monotonic() < deadline:
        time.sleep(0.2)
    mentions = [line for line in served.model_log().splitlines() if request_id in line]
    assert len(mentions) == 1, mentions
    assert "ValueError" in mentions[0] and FAILING_MODEL in mentions[0]
    assert "Traceback" not in served.model_log()
    assert_still_answers(served)


# ---- batching and metrics ----

def test_concurrent_requests_are_batched(served):
    def batch_counts() -> tuple[float, float]:
        text = metrics_text(served)
        return (prometheus_value(text, "InferenceBatches", "ModelName", "ce_clean"),
                prometheus_value(text, "InferenceBatchImages", "ModelName", "ce_clean"))

    clients = 32
    before = batch_counts()
    barrier, statuses = threading.Barrier(clients), []

    def one_client() -> None:
        barrier.wait()
        statuses.append(served.predict("ce_clean", png(11)).status_code)

    threads = [threading.Thread(target=one_client) for _ in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert statuses == [200] * clients
    deadline = time.monotonic() + 10  # the frontend reads the workers' metric lines asynchronously
    while (after := batch_counts())[1] - before[1] < clients and time.monotonic() < deadline:
        time.sleep(0.2)
    batches, images = after[0] - before[0], after[1] - before[1]
    assert images == clients
    assert batches < clients / 2, f"{clients} simultaneous requests ran in {batches:.0f} batches"


def test_prometheus_has_per_model_request_counts_and_latency(served):
    sent = 5
    before = prometheus_value(metrics_text(served), "ts_inference_requests_total", "model_name", "angular")
    for _ in range(sent):
        assert served.predict("angular", png()).status_code == 200
    text = metrics_text(served)
    assert prometheus_value(text, "ts_inference_requests_total", "model_name", "angular") == before + sent
    for model in GOOD_MODELS:
        assert prometheus_value(text, "ts_inference_latency_microseconds", "model_name", model) > 0
        assert prometheus_value(text, "ts_queue_latency_microseconds", "model_name", model) >= 0
        assert prometheus_value(text, "PredictionTime", "ModelName", model) > 0


# ---- security settings ----

def proc_net_address(hex_address: str) -> str:
    """An address as /proc/net/tcp{,6} writes it (32-bit words in host byte order) -> text;
    IPv4-mapped IPv6 addresses (how Java binds 127.0.0.1) come out as the IPv4 address."""
    words = [int(hex_address[i:i + 8], 16).to_bytes(4, sys.byteorder) for i in range(0, len(hex_address), 8)]
    packed = b"".join(words)
    if len(packed) == 4:
        return socket.inet_ntop(socket.AF_INET, packed)
    address = ipaddress.IPv6Address(packed)
    return str(address.ipv4_mapped or address)


def listening_addresses(port: int) -> set[str]:
    """Local addresses with a socket listening on `port`."""
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            address, port_hex = fields[1].rsplit(":", 1)
            if fields[3] == "0A" and int(port_hex, 16) == port:  # 0A: LISTEN
                found.add(proc_net_address(address))
    return found


def test_every_port_listens_on_loopback_only(served):
    for port in served.ports:
        assert listening_addresses(port) == {"127.0.0.1"}, f"port {port}"


def test_model_registration_and_removal_are_off(served):
    # TorchServe 0.12's enable_model_api=false covers registering and unregistering; scaling
    # workers (PUT /models/<m>) stays possible on the loopback management port (see README).
    for method, path in [("POST", "/models?url=https://example.com/evil.mar"),
                         ("POST", "/models?url=ce_clean.mar"),
                         ("DELETE", "/models/ce_clean")]:
        response = requests.request(method, f"{served.management}{path}", timeout=30)
        assert response.status_code == 405, (method, path, response.text)
    assert len(served.workers("ce_clean")) == 1


def test_workflows_cannot_be_fetched_from_urls(served):
    response = requests.post(f"{served.management}/workflows?url=https://example.com/flow.war", timeout=30)
    assert response.status_code in (400, 403, 404, 405), response.text
    assert requests.get(f"{served.management}/workflows", timeout=30).json().get("workflows", []) == []


# ---- a worker killed under load is restarted; only the requests it held fail ----

def test_killed_worker_is_restarted_and_few_requests_fail(served):
    pid = served.workers("ce_clean")[0]["pid"]
    outcomes: list[tuple[float, float, int, str]] = []  # (sent, answered, status, error) per request
    stop_event = threading.Event()

    def client() -> None:
        with requests.Session() as session:
            while not stop_event.is_set():
                sent = time.monotonic()
                try:
                    response = session.post(f"{served.url}/predictions/ce_clean", data=png(2), timeout=60)
                    outcomes.append((sent, time.monotonic(), response.status_code, ""))
                except requests.RequestException as error:
                    outcomes.append((sent, time.monotonic(), 0, repr(error)))

    threads = [threading.Thread(target=client) for _ in range(8)]
    for thread in threads:
        thread.start()
    time.sleep(1.0)
    before_kill = len(outcomes)
    killed_at = time.monotonic()
    os.kill(pid, signal.SIGKILL)
    try:
        new_pid = served.wait_for_new_worker("ce_clean", pid)
        ready_at = time.monotonic()
        time.sleep(1.0)
    finally:
        stop_event.set()
        for thread in threads:
            thread.join(70)
    # (sent, answered) in seconds after the kill, status, error: what a failure message needs
    failed = [(round(s - killed_at, 2), round(a - killed_at, 2), c, e) for s, a, c, e in outcomes if c != 200]
    print("SLOW", [(round(s - killed_at, 2), round(a - killed_at, 2), c, e) for s, a, c, e in outcomes if a - s > 3], flush=True)
    context = f"new worker ready {ready_at - killed_at:.2f} s after the kill; failed: {failed}"
    assert before_kill > 0 and new_pid != pid
    assert len(failed) <= 16, f"{len(failed)} of {len(outcomes)} requests failed; {context}"
    # every request sent once the new worker was ready is answered by it
    sent_after_ready = [c for s, a, c, e in outcomes if s >= ready_at]
    assert sent_after_ready and all(c == 200 for c in sent_after_ready), context
    assert_still_answers(served)
