"""Admission control at the edge, live: a short bounded burst past the per-model limit."""

from __future__ import annotations

import asyncio
import os
from concurrent.futures import ThreadPoolExecutor
from unittest import mock

import pytest
import requests
from fakeserving import free_ports, png, worker_environment, write_tiny_model

from benchmark.load.http_load import Target, closed_loop
from serve.archives import build_archive
from serve.config import ServeConfig
from serve.server import launch, stop, wait_until_ready

pytestmark = [pytest.mark.slow, pytest.mark.integration]
LIMIT = 2
BATCH_DELAY_MS = 200  # admitted requests wait this long for their batch, so the burst overlaps them


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    root = tmp_path_factory.mktemp("overload")
    artifacts = root / "artifacts"
    write_tiny_model(artifacts, "ce_clean", "classifier")
    ports = free_ports(6)
    config = ServeConfig(artifacts=artifacts, state_dir=root / "state", inference_port=ports[0],
                         backend_port=ports[1], management_port=ports[2], metrics_port=ports[3],
                         grpc_inference_port=ports[4], grpc_management_port=ports[5], admission_limit=LIMIT,
                         retry_after_s=2, max_batch_delay_ms=BATCH_DELAY_MS, startup_timeout=180)
    build_archive("ce_clean", config)
    with mock.patch.dict(os.environ, worker_environment()):
        launch(config, ["ce_clean"])
    try:
        wait_until_ready(config, ["ce_clean"], report=lambda message: None)
        yield config
    finally:
        stop(config)


def test_the_excess_of_a_burst_is_refused_at_once_and_the_rest_answered(server):
    url = f"{server.public_url()}/predictions/ce_clean"
    body = png(1)

    def post(_):
        return requests.post(url, data=body, headers={"Content-Type": "image/png"}, timeout=30)

    with ThreadPoolExecutor(24) as pool:
        answers = list(pool.map(post, range(24)))
    ok = [a for a in answers if a.status_code == 200]
    refused = [a for a in answers if a.status_code == 503]
    assert len(ok) + len(refused) == len(answers), [a.status_code for a in answers]
    assert ok and refused
    assert len(ok) < len(answers)  # more than the limit came at once, so some were refused
    for answer in refused:
        assert answer.headers["Retry-After"] == "2"
        assert answer.json()["error"] == "overloaded" and str(LIMIT) in answer.json()["detail"]
        # refused without waiting for a batch: far quicker than an admitted request
        assert answer.elapsed.total_seconds() < BATCH_DELAY_MS / 1000
    # afterwards the server answers as usual
    assert post(0).status_code == 200 and "label" in post(0).json()


def test_polite_clients_honour_retry_after_and_keep_getting_answers(server):
    target = Target(f"{server.public_url()}/predictions/ce_clean", png(2))
    samples = asyncio.run(closed_loop(target, 8, 3.0, polite=True))
    statuses = {s.status for s in samples}
    assert statuses <= {200, 503}, statuses
    assert sum(s.status == 200 for s in samples) >= 4
    refused = [s for s in samples if s.status == 503]
    assert refused and all(s.retry_after_s == 2 for s in refused)
    # a polite client waited 2 s after a refusal, so no client was refused more than twice in 3 s
    assert len(refused) <= 2 * 8


def test_the_default_limit_is_eight_batches_per_worker():
    assert ServeConfig().resolved_admission_limit() == 8 * 8
    assert ServeConfig(batch_size=4, workers_per_model=2).resolved_admission_limit() == 8 * 4 * 2
    assert ServeConfig(admission_limit=0).resolved_admission_limit() == 0  # off
