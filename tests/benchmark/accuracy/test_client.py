import socket

import pytest

from benchmark.accuracy.client import EndpointUnreachable, PredictionClient


def closed_port_url() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def test_a_good_answer_gives_the_class(stub_server):
    url, counts = stub_server
    prediction = PredictionClient(url).predict("ce_clean", b"png")
    assert (prediction.class_id, prediction.status, prediction.failure_kind) == (0, 200, "")
    assert counts["ce_clean"] == 1


def test_a_4xx_answer_is_counted_as_failed_and_never_retried(stub_server):
    url, counts = stub_server
    prediction = PredictionClient(url, retries=3, backoff_s=0).predict("bad", b"png")
    assert prediction.class_id is None and prediction.status == 400
    assert prediction.failure_kind == "HTTP 400"
    assert counts["bad"] == 1


def test_a_5xx_answer_is_not_retried_either(stub_server):
    url, counts = stub_server
    predictions = PredictionClient(url, concurrency=4, retries=3, backoff_s=0).predict_many(
        "angular", [b"a", b"b", b"c"], progress=False)
    assert [p.failure_kind for p in predictions] == ["HTTP 503"] * 3
    assert counts["angular"] == 3


def test_a_connection_dropped_after_the_request_was_sent_is_not_retried(stub_server):
    url, counts = stub_server
    prediction = PredictionClient(url, retries=2, backoff_s=0).predict("flaky", b"first body")
    assert prediction.class_id is None and prediction.failure_kind == "ConnectionError"
    assert counts["flaky"] == 1  # the server saw it once: sending it again could count it twice


def test_a_refused_connection_is_retried_then_given_up(monkeypatch):
    waits = []
    monkeypatch.setattr("benchmark.accuracy.client.time.sleep", waits.append)
    prediction = PredictionClient(closed_port_url(), retries=2, backoff_s=0.5).predict("ce_clean", b"png")
    assert prediction.class_id is None and prediction.status == 0
    assert prediction.failure_kind == "ConnectionError"
    assert waits == [0.5, 1.0]  # two retries with backoff


def test_an_answer_keeps_its_class_distribution(stub_server):
    url, _ = stub_server
    prediction = PredictionClient(url).predict("ce_clean", b"png")
    assert prediction.probabilities[0] == pytest.approx(0.55) and prediction.probabilities.sum() == pytest.approx(1.0)


def test_unreachable_endpoint_is_a_clear_error():
    with pytest.raises(EndpointUnreachable, match="make serve"):
        PredictionClient(closed_port_url()).check_reachable()


def test_inference_key_is_read_from_the_key_file(tmp_path):
    from benchmark.api_key import inference_key

    key_file = tmp_path / "key_file.json"
    key_file.write_text('{"management": {"key": "m"}, "inference": {"key": "abc"}, "API": {"key": "x"}}')
    assert inference_key(key_file) == "abc" and inference_key(None) is None
    key_file.write_text("{}")
    with pytest.raises(ValueError, match="cannot read the inference key"):
        inference_key(key_file)


def test_load_test_refuses_other_hosts_unless_named():
    from benchmark.load.load_test import LoadTestError, require_loopback

    require_loopback("http://127.0.0.1:8080")
    require_loopback("http://serve:8080", allowed_hosts=("serve",))
    with pytest.raises(LoadTestError, match="only targets this machine"):
        require_loopback("http://10.1.2.3:8080")
