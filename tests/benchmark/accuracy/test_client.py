import socket

import numpy as np
import pytest

from benchmark.accuracy.client import EndpointUnreachable, PredictionClient


def one(client: PredictionClient, model: str, body: bytes = b"png"):
    """One /predictions request through the client's own sending path."""
    (prediction,) = client.send(model, body, {"Content-Type": "image/png"}, 1)
    return prediction


def closed_port_url() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def test_a_good_answer_gives_the_class(stub_server):
    url, counts = stub_server
    prediction = one(PredictionClient(url), "ce_clean", b"png")
    assert (prediction.class_id, prediction.status, prediction.failure_kind) == (0, 200, "")
    assert counts["ce_clean"] == 1


def test_a_4xx_answer_is_counted_as_failed_and_never_retried(stub_server):
    url, counts = stub_server
    prediction = one(PredictionClient(url, retries=3, backoff_s=0), "bad", b"png")
    assert prediction.class_id is None and prediction.status == 400
    assert prediction.failure_kind == "HTTP 400"
    assert counts["bad"] == 1


def test_a_5xx_answer_is_not_retried_either(stub_server):
    url, counts = stub_server
    images = np.zeros((3, 32, 32, 3), np.uint8)
    predictions = PredictionClient(url, concurrency=4, retries=3, backoff_s=0).predict("angular", images)
    assert [p.failure_kind for p in predictions] == ["HTTP 503"] * 3
    assert counts["angular"] == 3


def test_a_connection_dropped_after_the_request_was_sent_is_not_retried(stub_server):
    url, counts = stub_server
    prediction = one(PredictionClient(url, retries=2, backoff_s=0), "flaky", b"first body")
    assert prediction.class_id is None and prediction.failure_kind == "ConnectionError"
    assert counts["flaky"] == 1  # the server saw it once: sending it again could count it twice


def test_a_refused_connection_is_retried_then_given_up(monkeypatch):
    waits = []
    monkeypatch.setattr("benchmark.accuracy.client.time.sleep", waits.append)
    prediction = one(PredictionClient(closed_port_url(), retries=2, backoff_s=0.5), "ce_clean")
    assert prediction.class_id is None and prediction.status == 0
    assert prediction.failure_kind == "ConnectionError"
    assert waits == [0.5, 1.0]  # two retries with backoff


def test_an_answer_keeps_its_class_distribution(stub_server):
    url, _ = stub_server
    prediction = one(PredictionClient(url), "ce_clean", b"png")
    assert prediction.probabilities[0] == pytest.approx(0.55) and prediction.probabilities.sum() == pytest.approx(1.0)


def test_unreachable_endpoint_is_a_clear_error():
    with pytest.raises(EndpointUnreachable, match="make serve"):
        PredictionClient(closed_port_url()).check_reachable()
