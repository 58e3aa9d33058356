import numpy as np
import pytest

from benchmark.load.load_test import (
    LoadTestError,
    read_failures,
    run_stage,
    stage_result,
    write_image_bodies,
)
from benchmark.load.request_bodies import read_bodies, read_meta
from robustcifar.serving.protocols import V2Contract, V2Protocol, from_description
from robustcifar.serving.v2 import HEADER_LENGTH, decode_request

STATS = """Type,Name,Request Count,Failure Count,Median Response Time,Average Response Time,Min Response Time,\
Max Response Time,Average Content Size,Requests/s,Failures/s,50%,66%,75%,80%,90%,95%,98%,99%,99.9%,99.99%,100%
POST,/predictions/ce_clean,1500,3,41,45.5,12,310,480,99.8,0.2,41,47,52,55,66,80,100,120,300,310,310
,Aggregated,1500,3,41,45.5,12,310,480,99.8,0.2,41,47,52,55,66,80,100,120,300,310,310
"""
FAILURES = """Method,Name,Error,Occurrences
POST,/predictions/ce_clean,HTTPError('503 Server Error'),3
"""


def test_stage_result_reads_the_aggregated_line(tmp_path):
    (tmp_path / "s_stats.csv").write_text(STATS)
    (tmp_path / "s_failures.csv").write_text(FAILURES)
    result = stage_result("ce_clean", 4, 15.0, tmp_path / "s_stats.csv", tmp_path / "s_failures.csv")
    assert (result.requests, result.failures, result.requests_per_s) == (1500, 3, 99.8)
    assert (result.p50_ms, result.p95_ms, result.p99_ms, result.max_ms, result.mean_ms) == (41, 80, 120, 310, 45.5)
    assert result.in_flight == pytest.approx(99.8 * 45.5 / 1000)
    assert result.failure_kinds == {"HTTPError('503 Server Error')": 3}
    assert read_failures(tmp_path / "missing.csv") == {}


def test_request_bodies_round_trip(tmp_path):
    images = np.random.default_rng(0).integers(0, 256, (5, 32, 32, 3), dtype=np.uint8)
    bodies = read_bodies(str(write_image_bodies(images, tmp_path / "bodies.npz")))
    assert len(bodies) == 5 and all(b.startswith(b"\x89PNG") for b in bodies)
    assert read_meta(tmp_path / "bodies.npz")["headers"] == {"Content-Type": "image/png"}


def test_v2_request_bodies_carry_batches_their_headers_and_protocol(tmp_path):
    images = np.random.default_rng(0).integers(0, 256, (9, 32, 32, 3), dtype=np.uint8)
    protocol = V2Protocol(V2Contract(), images_per_request=4)
    path = write_image_bodies(images, tmp_path / "bodies.npz", protocol)
    bodies, meta = read_bodies(path), read_meta(path)
    assert len(bodies) == 2  # two whole requests of 4; the ninth image makes none
    _, (tensor,) = decode_request(bodies[1], meta["headers"][HEADER_LENGTH])
    assert np.array_equal(tensor.data, images[4:8])
    rebuilt = from_description(meta["protocol"])
    assert (rebuilt.contract, rebuilt.images_per_request) == (protocol.contract, 4)
    with pytest.raises(LoadTestError, match="make no request"):
        write_image_bodies(images[:3], tmp_path / "few.npz", protocol)


@pytest.mark.slow
def test_a_real_locust_stage_against_a_stub_server(stub_server, tmp_path):
    url, counts = stub_server
    bodies = write_image_bodies(np.zeros((3, 32, 32, 3), np.uint8), tmp_path / "bodies.npz")
    result = run_stage(url, "ce_clean", 2, 2, bodies, tmp_path)
    assert result.requests > 10 and result.failures == 0
    assert counts["ce_clean"] >= result.requests  # the ramp-up is not counted after --reset-stats
    # Locust keeps response times rounded (to whole ms below 100 ms), so a percentile may top the exact max
    assert result.mean_ms > 0 and 0 <= result.p50_ms <= result.p99_ms <= round(result.max_ms) + 1
    assert (tmp_path / "locust_ce_clean_u2.html").is_file()
    failing = run_stage(url, "angular", 1, 2, bodies, tmp_path)
    assert failing.requests > 0 and failing.failures == failing.requests
    assert sum(failing.failure_kinds.values()) >= failing.failures
