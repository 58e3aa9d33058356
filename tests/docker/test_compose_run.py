"""docker/compose.yaml run for real with Docker's engine, through docker/compose.sh (the compose
plugin, or Debian's docker-compose 1.29): `serve` becomes healthy by the image's own HEALTHCHECK,
and the `benchmark` service (the work image, `make benchmark`) measures it through the compose
network, with the inference key from the shared state volume; its run is copied out of its volume.
Two small models and a synthetic CIFAR-10 archive keep the benchmark to a minute or so. Every
container, volume and network of the project is removed at the end, the images by conftest.
"""

from __future__ import annotations

import csv
import json
import os
import subprocess
from pathlib import Path

import numpy as np
import pytest
import requests
import yaml
from container_files import ROOT
from fakedata import write_official_archive
from fakeserving import free_ports, write_tiny_model

from robustcifar.artifacts import model_store_dir, sha256_file
from robustcifar.datasets.loader import OFFICIAL_FILENAME
from robustcifar.imaging import encode_png
from serve.archives import build_archive
from serve.config import ServeConfig

pytestmark = [pytest.mark.slow, pytest.mark.integration]
APP_UID = 10001
MODELS = {"ce_clean": "classifier", "angular": "embedder"}
CORRUPTIONS, SEVERITIES, USERS = ("gaussian_noise", "fog"), (1, 5), (1, 2)
BENCHMARK_ARGS = (f"--per-class 2 --corruptions {' '.join(CORRUPTIONS)} --severities {' '.join(map(str, SEVERITIES))} "
                  f"--users {' '.join(map(str, USERS))} --stage-seconds 3 --baseline-seconds 1 --bootstrap 50")


def compose_sh(env: dict[str, str], *args: str, timeout: float = 900) -> subprocess.CompletedProcess:
    return subprocess.run([str(ROOT / "docker" / "compose.sh"), *args], capture_output=True, text=True,
                          timeout=timeout, check=False, env=env)


@pytest.fixture(scope="module")
def project(docker_images, tmp_path_factory):
    tags = docker_images.need("serve", "work")
    root = tmp_path_factory.mktemp("compose")
    artifacts = root / "artifacts"
    for name, kind in MODELS.items():
        write_tiny_model(artifacts, name, kind)
        build_archive(name, ServeConfig(artifacts=artifacts))
    data = root / "data"
    data.mkdir()
    write_official_archive(data / OFFICIAL_FILENAME, n_per_class=30)
    os.chown(data, APP_UID, APP_UID)  # the benchmark's user writes the decoded cache there
    override = root / "compose.test.yaml"
    override.write_text(yaml.safe_dump({"services": {"benchmark": {"volumes": [f"{data}:/app/data"]}}}))
    env = {**docker_images.engine.env, "ROBUSTCIFAR_TAG": tags[0].split(":")[1],
           "ROBUSTCIFAR_PROJECT": f"rcpytest{os.getpid()}", "ROBUSTCIFAR_PORT": str(free_ports(1)[0]),
           "ROBUSTCIFAR_MODEL_STORE": str(model_store_dir(artifacts)), "ROBUSTCIFAR_ARTIFACTS": str(artifacts),
           "ROBUSTCIFAR_REPORTS": str(root / "reports"), "ROBUSTCIFAR_COMPOSE_OVERRIDES": str(override),
           "ROBUSTCIFAR_READY_S": "300", "MODELS": ",".join(MODELS), "PROFILE": "quick",
           "BENCHMARK_ARGS": BENCHMARK_ARGS}
    try:
        yield env, root
    finally:
        down = compose_sh(env, "down", "-v", timeout=300)
        assert down.returncode == 0, down.stdout + down.stderr


@pytest.fixture(scope="module")
def up(project):
    env, _ = project
    started = compose_sh(env, "up", timeout=600)
    assert started.returncode == 0, started.stdout[-3000:] + started.stderr[-3000:]
    return started


def test_serve_becomes_healthy_by_its_own_health_check(up, project):
    env, _ = project
    assert "serve is healthy" in up.stdout
    # published on the host's loopback, with the token required; `compose.sh key` gives it
    url = f"http://127.0.0.1:{env['ROBUSTCIFAR_PORT']}/predictions/ce_clean"
    body = encode_png(np.zeros((32, 32, 3), dtype=np.uint8))
    assert requests.post(url, data=body, timeout=30).status_code == 400
    key = compose_sh(env, "key", timeout=60)
    assert key.returncode == 0, key.stderr
    answer = requests.post(url, data=body, headers={"Authorization": f"Bearer {key.stdout.strip()}"}, timeout=30)
    assert answer.status_code == 200 and answer.json()["model"] == "ce_clean"


def test_the_benchmark_measures_serve_through_the_compose_network(up, project):
    env, root = project
    done = compose_sh(env, "benchmark", timeout=900)
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-4000:]
    (run,) = [p for p in (root / "reports").iterdir() if (p / "summary.json").is_file()]
    summary = json.loads((run / "summary.json").read_text())
    assert summary["url"] == "http://serve:8080"
    for name in MODELS:  # answered by the very files in the artifacts
        want = sha256_file(Path(env["ROBUSTCIFAR_ARTIFACTS"]) / name / "model.onnx")
        assert summary["model_files"][name]["served_sha256"] == [want], summary["model_files"][name]
    assert "pip install" not in done.stdout, "the work image's make reinstalled the requirements"
    with open(run / "accuracy.csv") as handle:
        rows = list(csv.DictReader(handle))
    cells = {(r["model"], r["corruption"], r["severity"]) for r in rows}
    for name in MODELS:
        assert (name, "clean", "0") in cells
        assert {(name, c, str(s)) for c in CORRUPTIONS for s in SEVERITIES} <= cells
    with open(run / "latency" / "latency.csv") as handle:
        latency = list(csv.DictReader(handle))
    assert {int(r["users"]) for r in latency} == set(USERS)
    assert all(int(r["failures"]) == 0 and int(r["requests"]) > 0 for r in latency), latency
    assert (run / "index.html").is_file()


def test_down_removes_the_project(project):
    env, _ = project
    down = compose_sh(env, "down", "-v", timeout=300)
    assert down.returncode == 0, down.stdout + down.stderr
    left = subprocess.run(["docker", "ps", "-a", "-q", "--filter", f"label=com.docker.compose.project={env['ROBUSTCIFAR_PROJECT']}"],
                          capture_output=True, text=True, env=env, check=True)
    assert left.stdout.strip() == ""
