"""The serving image's ENTRYPOINT and HEALTHCHECK, run outside Docker: the very commands of
docker/Dockerfile, with /models and the state folder replaced by temporary ones, against an
archive store of two tiny untrained models, on free ports.

It must serve (with token authorization on), pass its health probe, keep TorchServe's own APIs on
loopback while the edge listens on every interface, stop everything on SIGTERM with status 0, and
stop everything with a failure status when the edge dies.
"""

from __future__ import annotations

import ipaddress
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import requests
import torch
from container_files import DOCKERFILE, ROOT, read_dockerfile
from fakeserving import free_ports

from export.onnx_export import export_onnx
from robustcifar.artifacts import ModelArtifacts, ModelMeta, model_store_dir
from robustcifar.classes import CLASS_NAMES
from robustcifar.gallery import Gallery
from robustcifar.imaging import encode_png, preprocess_image_bytes
from robustcifar.model import RobustCifarNet
from robustcifar.onnx_model import PROVIDER_ENV, OnnxModel
from robustcifar.predictions import softmax
from serve.archives import build_archive
from serve.config import ServeConfig
from serve.server import ServerRecord, process_group_alive

pytestmark = [pytest.mark.slow, pytest.mark.integration]
MODELS = {"ce_clean": "classifier", "angular": "embedder"}
READY_LINE = f"all {len(MODELS)} models answer"
STARTUP_S = 300


def build_store(root: Path) -> Path:
    """Exported random networks, their meta (and gallery), archived exactly as `serve archive` does."""
    for name, kind in MODELS.items():
        artifacts = ModelArtifacts.for_model(name, root)
        torch.manual_seed(0)
        export_onnx(RobustCifarNet(kind).eval(), artifacts.onnx)
        ModelMeta(name=name, kind=kind, class_names=list(CLASS_NAMES), onnx_sha256="untrained", knn_k=3,
                  output_name="logits" if kind == "classifier" else "embedding").save(artifacts.meta)
        if kind == "embedder":
            rng = np.random.default_rng(0)
            embeddings = rng.normal(size=(60, 128)).astype(np.float32)
            Gallery(embeddings / np.linalg.norm(embeddings, axis=1, keepdims=True),
                    rng.integers(0, 10, 60)).save(artifacts.gallery)
        build_archive(name, ServeConfig(artifacts=root))
    return model_store_dir(root)


def image_command(instruction: str, store: Path, state: Path) -> list[str]:
    """The exec-form command of a Dockerfile instruction of the serve stage, with our paths."""
    args = read_dockerfile(DOCKERFILE)["serve"].all(instruction)[0]
    command = json.loads(args[args.index("["):])
    replace = {"python": sys.executable, "/models": str(store), "/home/app/state": str(state)}
    return [replace.get(part, part) for part in command]


def listening_addresses(port: int) -> set[str]:
    """Addresses with a listening TCP socket on `port`, IPv4 and IPv6 (IPv4-mapped ones as IPv4)."""
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            local, state = line.split()[1], line.split()[3]
            address_hex, port_hex = local.split(":")
            if state != "0A" or int(port_hex, 16) != port:
                continue
            raw = bytes.fromhex(address_hex)
            # The kernel prints each 32-bit word in host (little-endian) order.
            packed = b"".join(raw[i:i + 4][::-1] for i in range(0, len(raw), 4))
            address = ipaddress.ip_address(packed)
            mapped = getattr(address, "ipv4_mapped", None)
            found.add(str(mapped or address))
    return found


class Entrypoint:
    """The container's main process, started as Docker would start it."""

    def __init__(self, root: Path, store: Path) -> None:
        self.state = root / "state"
        apis = ("inference", "backend", "management", "metrics", "grpc-inference", "grpc-management")
        self.ports = dict(zip(apis, free_ports(len(apis))))
        command = image_command("ENTRYPOINT", store, self.state) + [
            *[arg for api, port in self.ports.items() for arg in (f"--{api}-port", str(port))],
            "--startup-timeout", str(STARTUP_S)]
        env = {k: v for k, v in os.environ.items() if k != PROVIDER_ENV}
        env["PYTHONPATH"] = str(ROOT)  # the workers import this checkout's robustcifar
        self.log = root / "entrypoint.log"
        with open(self.log, "wb") as log:
            self.process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
                                            stdin=subprocess.DEVNULL, start_new_session=True)
        self.store = store

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def wait_for(self, condition, what: str, timeout: float = STARTUP_S) -> None:
        deadline = time.monotonic() + timeout
        while not condition():
            assert self.process.poll() is None, f"the entrypoint exited while waiting for {what}:\n{self.output()[-4000:]}"
            assert time.monotonic() < deadline, f"no {what} after {timeout:.0f} s:\n{self.output()[-4000:]}"
            time.sleep(0.5)

    def groups(self) -> dict[str, int]:
        return ServerRecord.load(self.state / "server.json").groups

    def keys(self) -> dict[str, str]:
        keys = json.loads((self.state / "key_file.json").read_text())
        return {api: keys[api]["key"] for api in ("inference", "management")}

    def healthcheck(self) -> subprocess.CompletedProcess:
        command = image_command("HEALTHCHECK", self.store, self.state)
        return subprocess.run(command + ["--timeout", "10"], cwd=ROOT, capture_output=True, text=True, timeout=60,
                              check=False)

    def stop_and_wait(self, signum: int = signal.SIGTERM, timeout: float = 60) -> int:
        self.process.send_signal(signum)
        return self.process.wait(timeout=timeout)

    def kill_everything(self) -> None:
        """Cleanup when a test failed midway: the entrypoint's group and the groups it started."""
        groups = self.groups().values() if (self.state / "server.json").is_file() else []
        for pgid in [self.process.pid, *groups]:
            try:
                os.killpg(pgid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self.process.wait(timeout=30)


@pytest.fixture(scope="module")
def store(tmp_path_factory) -> Path:
    return build_store(tmp_path_factory.mktemp("models"))


@pytest.fixture(scope="module")
def served(store, tmp_path_factory):
    entrypoint = Entrypoint(tmp_path_factory.mktemp("serving"), store)
    try:
        entrypoint.wait_for(lambda: READY_LINE in entrypoint.output(), "readiness")
        yield entrypoint
    finally:
        # Normally test_sigterm_stops_everything_cleanly has stopped it already.
        if entrypoint.process.poll() is None:
            entrypoint.kill_everything()


def predict(served, name: str, body: bytes, key: str | None) -> requests.Response:
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    return requests.post(f"http://127.0.0.1:{served.ports['inference']}/predictions/{name}", data=body,
                         headers=headers, timeout=30)


def test_token_authorization_is_on_by_default(served):
    body = encode_png(np.zeros((32, 32, 3), np.uint8))
    refused = predict(served, "ce_clean", body, key=None)
    assert refused.status_code in (400, 401, 403), refused.text
    assert predict(served, "ce_clean", body, key="not-the-key").status_code in (400, 401, 403)


@pytest.mark.parametrize("name", MODELS)
def test_it_serves_what_onnxruntime_computes(served, name):
    image = np.random.default_rng(3).integers(0, 256, (40, 36, 3), dtype=np.uint8)
    body = encode_png(image)
    response = predict(served, name, body, served.keys()["inference"])
    assert response.status_code == 200, response.text
    answer = response.json()
    artifacts = ModelArtifacts.for_model(name, served.store.parent)
    output = OnnxModel(artifacts.onnx).run(preprocess_image_bytes(body))
    assert answer["model"] == name
    if MODELS[name] == "classifier":
        probabilities = softmax(output.astype(np.float64))[0]
        assert answer["class_id"] == int(np.argmax(probabilities))
        assert [answer["probabilities"][c] for c in CLASS_NAMES] == pytest.approx(probabilities.tolist(), abs=1e-5)
    else:
        assert answer["embedding"] == pytest.approx(output[0].tolist(), abs=1e-5)


def test_health_probe_passes(served):
    result = served.healthcheck()
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip() == "healthy: angular, ce_clean ready"


def test_only_the_edge_listens_beyond_loopback(served):
    assert listening_addresses(served.ports["inference"]) == {"0.0.0.0"}
    for api in ("backend", "management", "metrics", "grpc-inference", "grpc-management"):
        assert listening_addresses(served.ports[api]) == {"127.0.0.1"}, api


def test_management_api_wants_its_key(served):
    url = f"http://127.0.0.1:{served.ports['management']}/models/ce_clean"
    assert requests.get(url, timeout=10).status_code in (400, 401, 403)
    described = requests.get(url, timeout=10, headers={"Authorization": f"Bearer {served.keys()['management']}"})
    assert described.status_code == 200 and described.json()[0]["workers"][0]["status"] == "READY"


def test_sigterm_stops_everything_cleanly(served):
    """Runs last in this module: stops the server the other tests used."""
    groups = served.groups()
    code = served.stop_and_wait()
    assert code == 0, served.output()[-3000:]
    assert "[serve] stopping: received SIGTERM" in served.output()
    assert not [name for name, pgid in groups.items() if process_group_alive(pgid)]
    unhealthy = served.healthcheck()
    assert unhealthy.returncode == 1 and unhealthy.stdout.startswith("unhealthy:")


def kill_the_edge_once(entrypoint: Entrypoint, ready, what: str) -> tuple[int, dict[str, int]]:
    """SIGKILL the edge's process group once `ready()` holds; the entrypoint's exit code and its groups."""
    try:
        entrypoint.wait_for(ready, what, timeout=STARTUP_S)
        groups = entrypoint.groups()
        os.killpg(groups["edge"], signal.SIGKILL)
        return entrypoint.process.wait(timeout=60), groups
    except BaseException:
        entrypoint.kill_everything()
        raise


def test_a_dead_edge_stops_the_container(store, tmp_path):
    """The edge dies while serving. Killed before readiness, the readiness watch may see it first and
    report "edge exited during start-up" instead (CI of 2026-12-05), so wait for the models to answer."""
    entrypoint = Entrypoint(tmp_path, store)
    code, groups = kill_the_edge_once(entrypoint, lambda: READY_LINE in entrypoint.output(), "readiness")
    assert code == 1
    assert "[serve] stopping: edge exited with status -9" in entrypoint.output()
    assert not [name for name, pgid in groups.items() if process_group_alive(pgid)]


def test_an_edge_dead_during_start_up_stops_the_container(store, tmp_path):
    """Either watcher may notice first (the readiness watch or the supervisor); both name the edge."""
    entrypoint = Entrypoint(tmp_path, store)
    code, groups = kill_the_edge_once(entrypoint, lambda: (entrypoint.state / "server.json").is_file()
                                      and (entrypoint.state / "nginx.pid").is_file(), "the edge's pid file")
    assert code == 1
    assert "[serve] stopping: edge exited" in entrypoint.output()
    assert not [name for name, pgid in groups.items() if process_group_alive(pgid)]
