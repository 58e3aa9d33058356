import numpy as np
import pytest

from benchmark.load.load_test import (
    LoadTestError,
    read_failures,
    require_loopback,
    run_stage,
    stage_result,
    write_image_bodies,
)
from benchmark.load.request_bodies import read_bodies

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


def test_the_load_test_only_targets_loopback():
    require_loopback("http://127.0.0.1:8080")
    require_loopback("http://localhost:1234")
    with pytest.raises(LoadTestError, match="loopback"):
        require_loopback("http://192.0.2.1:8080")


def test_request_bodies_round_trip(tmp_path):
    images = np.random.default_rng(0).integers(0, 256, (5, 32, 32, 3), dtype=np.uint8)
    bodies = read_bodies(str(write_image_bodies(images, tmp_path / "bodies.npz")))
    assert len(bodies) == 5 and all(b.startswith(b"\x89PNG") for b in bodies)


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
