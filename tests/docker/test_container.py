"""The serving image, built and run for real with each engine here, podman (as root, runc,
cgroupfs) and Docker's own engine: non-root, the supervisor as PID 1, token authorization,
predictions equal to onnxruntime run directly, the health check (scheduled by Docker itself), a
killed worker replaced, a restart on the same state folder after earlier load failures, SIGTERM,
and a dead TorchServe ending the container. Every container and image made is removed.

An engine that cannot run here is skipped with the reason (tests/container_engines.py), and
`ROBUSTCIFAR_CONTAINER_TESTS=0` skips them all.
"""

from __future__ import annotations

import json
import os
import shutil
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

pytestmark = [pytest.mark.slow, pytest.mark.integration]
APP_UID = 10001
STATE = "/home/app/state"  # the image's state folder (docker/Dockerfile)
HEALTHCHECK = ("python", "-m", "serve.healthcheck", "--state-dir", STATE)
MODELS = {"ce_clean": "classifier", "angular": "embedder"}
READY_S = 180
# the image has no procps: find TorchServe's Java frontend in /proc and kill it
KILL_FRONTEND = ("import os\nfor p in filter(str.isdigit, os.listdir('/proc')):\n"
                 "    if b'org.pytorch.serve.ModelServer' in open(f'/proc/{p}/cmdline', 'rb').read():\n"
                 "        os.kill(int(p), 9)\n")
# one of TorchServe's Python workers: killed, and its pid printed
KILL_WORKER = ("import os\nfor p in filter(str.isdigit, os.listdir('/proc')):\n"
               "    if b'model_service_worker' in open(f'/proc/{p}/cmdline', 'rb').read():\n"
               "        os.kill(int(p), 9)\n        print(p)\n        break\n")


@pytest.fixture(scope="module", params=["podman", "docker"])
def images(request):
    """The Images (tests/docker/conftest.py) of one engine; the serving image is built here."""
    images = request.getfixturevalue(f"{request.param}_images")
    images.need("serve")
    return images


class Container:
    """The serving image run with a model store mounted (or, store=None, the one baked in)."""

    def __init__(self, images, store: Path | None, state: Path, name: str, target: str = "serve") -> None:
        self.engine, self.name, self.state = images.engine, name, state
        self.port = free_ports(1)[0]
        mounts = ["-v", f"{store}:/models:ro"] if store else []
        self.engine("run", "-d", "--name", name, "--ulimit", "nofile=1024:1024", "--ulimit", "nproc=1024:1024",
                    "-p", f"127.0.0.1:{self.port}:8080", *mounts, "-v", f"{state}:{STATE}",
                    images.NAMES[target], "--models", ",".join(MODELS))
        self.url = f"http://127.0.0.1:{self.port}"

    def logs(self) -> str:
        done = self.engine("logs", self.name, check=False)
        return done.stdout + done.stderr

    def running(self) -> bool:
        return self.engine("inspect", "--format", "{{.State.Running}}", self.name, check=False).stdout.strip() == "true"

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
        return int(self.engine("inspect", "--format", "{{.State.ExitCode}}", self.name).stdout.strip())

    def exec(self, *command: str, check: bool = True):
        return self.engine("exec", self.name, *command, check=check)

    def remove(self) -> None:
        self.engine.remove_container(self.name)


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
def served(images, store, tmp_path_factory):
    container = Container(images, store, state_folder(tmp_path_factory.mktemp("run") / "state"),
                          f"rc-{os.getpid()}-{images.engine.name}-a")
    try:
        container.wait_ready()
        yield container
    finally:
        container.remove()


def test_it_runs_as_its_user_under_the_supervisor(served):
    assert served.exec("id", "-u").stdout.strip() == str(APP_UID)
    command = served.exec("cat", "/proc/1/cmdline").stdout.replace("\0", " ")
    assert "serve.foreground" in command


def assert_answers_as_onnxruntime(container: Container, artifacts: Path) -> None:
    body = encode_png(np.random.default_rng(4).integers(0, 256, (32, 32, 3), dtype=np.uint8))
    for name in MODELS:
        response = requests.post(f"{container.url}/predictions/{name}", data=body, timeout=30,
                                 headers={"Authorization": f"Bearer {container.key()}"})
        assert response.status_code == 200, response.text
        answer, want = response.json(), expected_answer(artifacts, name, body)
        assert answer["class_id"] == want["class_id"]
        assert answer["confidence"] == pytest.approx(want["confidence"], abs=1e-5)


def test_every_model_answers_as_onnxruntime_with_the_token(served, store):
    body = encode_png(np.zeros((32, 32, 3), dtype=np.uint8))
    assert requests.post(f"{served.url}/predictions/ce_clean", data=body, timeout=30).status_code == 400
    assert_answers_as_onnxruntime(served, store.parent)


def build_context(tmp_path: Path, artifacts: Path) -> Path:
    """A build context like the checkout's (docker/Dockerfile.dockerignore's allow-list), with `artifacts`."""
    context = tmp_path / "context"
    skip = shutil.ignore_patterns("__pycache__", "*.pyc")
    for name in ("pyproject.toml", "requirements.txt", "requirements-nodeps.txt", "Makefile",
                 "docker/requirements-serve.txt", "scripts/install-torch.sh"):
        (context / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / name, context / name)  # with its mtime: podman's layer cache compares it
    for name in ("robustcifar", "training", "export", "serve", "benchmark"):
        shutil.copytree(ROOT / name, context / name, ignore=skip)
    for name in MODELS:
        shutil.copytree(artifacts / name, context / "artifacts" / name)
    return context


def test_the_baked_image_serves_its_own_models(images, store, tmp_path):
    images.need("serve-baked", context=build_context(tmp_path, store.parent), models=",".join(MODELS))
    baked = Container(images, None, state_folder(tmp_path / "state"), f"rc-{os.getpid()}-{images.engine.name}-baked",
                      target="serve-baked")
    try:
        baked.wait_ready()
        assert_answers_as_onnxruntime(baked, store.parent)
    finally:
        baked.remove()


def test_the_health_check_passes(served):
    check = served.exec(*HEALTHCHECK, check=False)
    assert check.returncode == 0 and check.stdout.startswith("healthy"), check.stdout + check.stderr


def test_docker_runs_the_image_health_check_itself(served):
    if served.engine.name != "docker":
        pytest.skip("podman schedules HEALTHCHECK with systemd timers, which these machines lack")
    deadline, status = time.monotonic() + 60, ""
    while status != "healthy" and time.monotonic() < deadline:
        status = served.engine("inspect", "--format", "{{.State.Health.Status}}", served.name).stdout.strip()
        assert status in ("starting", "healthy"), status
        time.sleep(1)
    assert status == "healthy"


def test_a_killed_worker_is_replaced_and_serves_again(served):
    killed = served.exec("python", "-c", KILL_WORKER).stdout.strip()
    assert killed.isdigit(), "no TorchServe worker found in the container"
    headers = {"Authorization": f"Bearer {served.key()}"}
    body = encode_png(np.zeros((32, 32, 3), dtype=np.uint8))

    def status(name: str) -> int | str:
        try:
            return requests.post(f"{served.url}/predictions/{name}", data=body, headers=headers, timeout=15).status_code
        except requests.RequestException as exc:  # a request caught by the kill may hang or break
            return type(exc).__name__

    deadline, statuses = time.monotonic() + 120, {}
    while time.monotonic() < deadline:
        statuses = {name: status(name) for name in MODELS}
        if set(statuses.values()) == {200}:
            break
        time.sleep(1)
    assert set(statuses.values()) == {200}, statuses
    assert served.running()
    alive = served.exec("test", "-d", f"/proc/{killed}", check=False).returncode == 0
    assert not alive, "the killed worker is still there"


def test_sigterm_stops_it_cleanly_and_a_restart_on_the_same_state_serves_again(images, store, tmp_path):
    state = state_folder(tmp_path / "state")
    first = Container(images, store, state, f"rc-{os.getpid()}-{images.engine.name}-b")
    try:
        first.wait_ready()
        images.engine("stop", "-t", "30", first.name)
        assert first.exit_code() == 0
        assert "stopping: received SIGTERM" in first.logs()
    finally:
        first.remove()
    # earlier starts' load failures in the appended log must not stop this one
    with open(state / "logs" / "ts_log.log", "a") as log:
        log.write("... - Load model failed: ce_clean, error: Worker died.\n" * 5)
    second = Container(images, store, state, f"rc-{os.getpid()}-{images.engine.name}-c")
    try:
        second.wait_ready()
        health = second.exec(*HEALTHCHECK, check=False)
        assert health.returncode == 0, health.stdout + health.stderr
        # a dead TorchServe ends the container, with a failure status (a restart policy brings it back)
        second.exec("python", "-c", KILL_FRONTEND, check=False)
        assert second.exit_code() != 0
    finally:
        second.remove()
