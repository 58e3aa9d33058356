"""The serving image, built and run for real with podman (as root, runc, cgroupfs): non-root, the
supervisor as PID 1, token authorization, predictions equal to onnxruntime run directly, the
health check, a restart on the same state folder after earlier load failures, SIGTERM, and a dead
TorchServe ending the container. Every container and image the module makes is removed.

Runs where podman can run containers (root, podman and runc installed); elsewhere it is skipped,
and `ROBUSTCIFAR_CONTAINER_TESTS=0` skips it too. The image is built by docker/build-serve.sh,
which picks the base and the torch source this host can reach.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest
import requests
from container_files import ROOT
from fakeserving import expected_answer, free_ports, write_tiny_model

from robustcifar.artifacts import model_store_dir
from robustcifar.imaging import encode_png
from serve.archives import build_archive
from serve.config import ServeConfig

pytestmark = [pytest.mark.slow, pytest.mark.integration, pytest.mark.skipif(
    os.environ.get("ROBUSTCIFAR_CONTAINER_TESTS") == "0" or not shutil.which("podman") or not shutil.which("runc")
    or os.geteuid() != 0, reason="needs podman and runc, as root (ROBUSTCIFAR_CONTAINER_TESTS=0 skips it)")]
PODMAN = ["podman", "--runtime", "runc", "--cgroup-manager=cgroupfs"]
TAG = f"localhost/robustcifar-serve:pytest-{os.getpid()}"
BASE = "localhost/robustcifar-base:bookworm"
APP_UID = 10001
STATE = "/home/app/state"  # the image's state folder (docker/Dockerfile)
HEALTHCHECK = ("python", "-m", "serve.healthcheck", "--state-dir", STATE)
MODELS = {"ce_clean": "classifier", "angular": "embedder"}
READY_S = 180
# the image has no procps: find TorchServe's Java frontend in /proc and kill it
KILL_FRONTEND = ("import os\nfor p in filter(str.isdigit, os.listdir('/proc')):\n"
                 "    if b'org.pytorch.serve.ModelServer' in open(f'/proc/{p}/cmdline', 'rb').read():\n"
                 "        os.kill(int(p), 9)\n")


def podman(*args: str, timeout: float = 120, check: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run([*PODMAN, *args], capture_output=True, text=True, timeout=timeout, check=check)


def image_exists(name: str) -> bool:
    return podman("image", "exists", name, check=False).returncode == 0


@pytest.fixture(scope="module")
def image():
    base_existed = image_exists(BASE)
    build = subprocess.run([str(ROOT / "docker" / "build-serve.sh"), "podman", TAG], capture_output=True, text=True,
                           timeout=1200, check=False)
    try:
        if build.returncode == 2:  # build-serve.sh: this host lacks a base or a torch source it can reach
            pytest.skip(build.stderr.strip().splitlines()[-1])
        assert build.returncode == 0, build.stdout[-3000:] + build.stderr[-3000:]
        yield TAG
    finally:
        podman("rmi", "-f", TAG, check=False)
        if not base_existed:
            podman("rmi", "-f", BASE, check=False)


class Container:
    def __init__(self, image: str, store: Path, state: Path, name: str) -> None:
        self.name, self.state = name, state
        self.port = free_ports(1)[0]
        podman("run", "-d", "--name", name, "--ulimit", "nofile=1024:1024", "--ulimit", "nproc=1024:1024",
               "-p", f"127.0.0.1:{self.port}:8080", "-v", f"{store}:/models:ro", "-v", f"{state}:{STATE}",
               image, "--models", ",".join(MODELS))
        self.url = f"http://127.0.0.1:{self.port}"

    def logs(self) -> str:
        done = podman("logs", self.name, check=False)
        return done.stdout + done.stderr

    def running(self) -> bool:
        return podman("inspect", "--format", "{{.State.Running}}", self.name, check=False).stdout.strip() == "true"

    def wait_ready(self) -> None:
        deadline = time.monotonic() + READY_S
        while f"all {len(MODELS)} models answer" not in self.logs():
            assert self.running(), f"the container exited before it was ready:\n{self.logs()[-4000:]}"
            assert time.monotonic() < deadline, f"not ready after {READY_S} s:\n{self.logs()[-4000:]}"
            time.sleep(1)

    def key(self) -> str:
        return json.loads((self.state / "key_file.json").read_text())["inference"]["key"]

    def exit_code(self, timeout: float = 60) -> int:
        deadline = time.monotonic() + timeout
        while self.running():
            assert time.monotonic() < deadline, "the container did not exit"
            time.sleep(0.5)
        return int(podman("inspect", "--format", "{{.State.ExitCode}}", self.name).stdout.strip())

    def remove(self) -> None:
        podman("rm", "-f", "-t", "5", self.name, check=False)


def state_folder(path: Path) -> Path:
    path.mkdir()
    os.chown(path, APP_UID, APP_UID)  # the container's user writes its state there
    return path


@pytest.fixture(scope="module")
def store(tmp_path_factory) -> Path:
    """Archives of small models (tests/fakeserving.py), as `serve archive` builds them."""
    root = tmp_path_factory.mktemp("container-artifacts")
    for name, kind in MODELS.items():
        write_tiny_model(root, name, kind)
        build_archive(name, ServeConfig(artifacts=root))
    return model_store_dir(root)


@pytest.fixture(scope="module")
def served(image, store, tmp_path_factory):
    container = Container(image, store, state_folder(tmp_path_factory.mktemp("run") / "state"), f"rc-{os.getpid()}-a")
    try:
        container.wait_ready()
        yield container
    finally:
        container.remove()


def test_it_runs_as_its_user_under_the_supervisor(served):
    assert podman("exec", served.name, "id", "-u").stdout.strip() == str(APP_UID)
    command = podman("exec", served.name, "cat", "/proc/1/cmdline").stdout.replace("\0", " ")
    assert "serve.foreground" in command


def test_every_model_answers_as_onnxruntime_with_the_token(served, store):
    body = encode_png(np.random.default_rng(4).integers(0, 256, (32, 32, 3), dtype=np.uint8))
    assert requests.post(f"{served.url}/predictions/ce_clean", data=body, timeout=30).status_code == 400
    for name in MODELS:
        response = requests.post(f"{served.url}/predictions/{name}", data=body, timeout=30,
                                 headers={"Authorization": f"Bearer {served.key()}"})
        assert response.status_code == 200, response.text
        answer, want = response.json(), expected_answer(store.parent, name, body)
        assert answer["class_id"] == want["class_id"]
        assert answer["confidence"] == pytest.approx(want["confidence"], abs=1e-5)


def test_the_health_check_passes(served):
    check = podman("exec", served.name, *HEALTHCHECK, check=False)
    assert check.returncode == 0 and check.stdout.startswith("healthy"), check.stdout + check.stderr


def test_sigterm_stops_it_cleanly_and_a_restart_on_the_same_state_serves_again(image, store, tmp_path):
    state = state_folder(tmp_path / "state")
    first = Container(image, store, state, f"rc-{os.getpid()}-b")
    try:
        first.wait_ready()
        podman("stop", "-t", "30", first.name)
        assert first.exit_code() == 0
        assert "stopping: received SIGTERM" in first.logs()
    finally:
        first.remove()
    # earlier starts' load failures in the appended log must not stop this one
    with open(state / "logs" / "ts_log.log", "a") as log:
        log.write("... - Load model failed: ce_clean, error: Worker died.\n" * 5)
    second = Container(image, store, state, f"rc-{os.getpid()}-c")
    try:
        second.wait_ready()
        health = podman("exec", second.name, *HEALTHCHECK, check=False)
        assert health.returncode == 0, health.stdout + health.stderr
        # a dead TorchServe ends the container, with a failure status (a restart policy brings it back)
        podman("exec", second.name, "python", "-c", KILL_FRONTEND, check=False)
        assert second.exit_code() != 0
    finally:
        second.remove()
