"""`python -m serve start/status/stop` as `make serve` / `make stop` run it, on a real TorchServe:
waiting for every model, refusing a second start, token authorization, a model that cannot load,
and no process left behind."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import pytest
import requests
from fakeserving import (
    ROOT,
    free_ports,
    png,
    port_options,
    processes_mentioning,
    tiny_onnx,
    worker_environment,
    write_tiny_model,
)

from robustcifar.artifacts import sha256_file

pytestmark = [pytest.mark.slow, pytest.mark.integration]


def serve(*args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    env = {**os.environ, **worker_environment()}
    return subprocess.run([sys.executable, "-m", "serve", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=timeout, check=False, env=env)


def assert_ok(result: subprocess.CompletedProcess) -> str:
    assert result.returncode == 0, f"{result.args} failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    return result.stdout


@pytest.fixture(scope="module")
def token_server(tmp_path_factory):
    """Two tiny models served with token authorization on, started and stopped by the CLI."""
    root = tmp_path_factory.mktemp("lifecycle")
    write_tiny_model(root / "artifacts", "ce_clean", "classifier")
    write_tiny_model(root / "artifacts", "angular", "embedder")
    ports = free_ports(6)
    args = ["--models", "ce_clean,angular", "--artifacts", str(root / "artifacts"), "--state-dir",
            str(root / "state"), *port_options(ports), "--token-auth", "--startup-timeout", "180"]
    assert_ok(serve("archive", *args))
    started = serve("start", *args)
    try:
        yield {"args": args, "ports": ports, "state": root / "state", "start": started, "artifacts": root / "artifacts"}
    finally:
        stopped = serve("stop", *args)
    assert_ok(started)
    assert "stopped TorchServe" in assert_ok(stopped)
    assert processes_mentioning(str(root / "state")) == [], "serving processes survived `serve stop`"
    assert "not running" in serve("status", *args).stdout
    assert "was not running" in assert_ok(serve("stop", *args))


def keys(token_server) -> dict:
    return json.loads((token_server["state"] / "key_file.json").read_text())


def test_start_waits_for_every_model(token_server):
    output = assert_ok(token_server["start"])
    assert "ce_clean is ready" in output and "angular is ready" in output
    assert output.index("angular is ready") < output.index("all 2 models answer")


def test_second_start_says_it_is_running(token_server):
    output = assert_ok(serve("start", *token_server["args"]))
    assert "already running" in output
    assert "running" in assert_ok(serve("status", *token_server["args"]))


def test_inference_needs_the_token(token_server):
    url = f"http://127.0.0.1:{token_server['ports'][0]}/predictions/ce_clean"
    refused = requests.post(url, data=png(), timeout=30)
    assert refused.status_code in (400, 401, 403) and "Token" in refused.text
    token = keys(token_server)["inference"]["key"]
    answered = requests.post(url, data=png(), timeout=30, headers={"Authorization": f"Bearer {token}"})
    assert answered.status_code == 200 and answered.json()["model"] == "ce_clean"


def test_management_needs_its_own_token(token_server):
    url = f"http://127.0.0.1:{token_server['ports'][2]}/models"
    assert requests.get(url, timeout=30).status_code in (400, 401, 403)
    inference_token = keys(token_server)["inference"]["key"]
    assert requests.get(url, timeout=30, headers={"Authorization": f"Bearer {inference_token}"}).status_code != 200
    token = keys(token_server)["management"]["key"]
    listed = requests.get(url, timeout=30, headers={"Authorization": f"Bearer {token}"})
    assert listed.status_code == 200
    assert {m["modelName"] for m in listed.json()["models"]} == {"ce_clean", "angular"}


def test_the_inference_key_is_renewed_with_the_api_key(token_server):
    old = keys(token_server)["inference"]["key"]
    api_key = keys(token_server)["API"]["key"]
    renewed = requests.post(f"http://127.0.0.1:{token_server['ports'][2]}/token?type=inference", timeout=30,
                            headers={"Authorization": f"Bearer {api_key}"})
    assert renewed.status_code == 200, renewed.text
    new = keys(token_server)["inference"]["key"]
    assert new != old
    url = f"http://127.0.0.1:{token_server['ports'][0]}/predictions/ce_clean"
    assert requests.post(url, data=png(), timeout=30, headers={"Authorization": f"Bearer {old}"}).status_code != 200
    assert requests.post(url, data=png(), timeout=30, headers={"Authorization": f"Bearer {new}"}).status_code == 200


def test_a_start_serves_what_the_artifacts_now_hold(token_server):
    """Rebuilt archives of unchanged files leave the server as it is; a changed model restarts it,
    and the answers then come from the new file (each answer names the file's hash)."""
    args = token_server["args"]
    assert_ok(serve("archive", *args))
    assert "already running" in assert_ok(serve("start", *args))
    onnx = token_server["artifacts"] / "ce_clean" / "model.onnx"
    tiny_onnx(onnx, "classifier", seed=7)
    assert_ok(serve("archive", *args))
    output = assert_ok(serve("start", *args))
    assert "restarting, since ce_clean changed" in output and "all 2 models answer" in output
    url = f"http://127.0.0.1:{token_server['ports'][0]}/predictions/ce_clean"
    answer = requests.post(url, data=png(), timeout=30,
                           headers={"Authorization": f"Bearer {keys(token_server)['inference']['key']}"}).json()
    assert answer["model_sha256"] == sha256_file(onnx)


def test_a_model_that_fails_to_load_stops_the_start_with_the_log_tail(tmp_path):
    artifacts = tmp_path / "artifacts"
    write_tiny_model(artifacts, "ce_clean", "classifier")
    write_tiny_model(artifacts, "ce_corrupted", "classifier")
    (artifacts / "ce_corrupted" / "model.onnx").write_bytes(b"not an onnx model")
    state = tmp_path / "state"
    # Failures of an earlier run in the same (appended) log must not count against this one.
    (state / "logs").mkdir(parents=True)
    (state / "logs" / "ts_log.log").write_text("... - Load model failed: ce_clean, error: Worker died.\n" * 5)
    args = ["--models", "ce_clean,ce_corrupted", "--artifacts", str(artifacts), "--state-dir", str(state),
            *port_options(free_ports(6)), "--startup-timeout", "240"]
    assert_ok(serve("archive", *args))
    started = time.monotonic()
    result = serve("start", *args)
    assert result.returncode == 1
    assert time.monotonic() - started < 120, "the start waited for the timeout instead of giving up"
    assert "ce_clean is ready" in result.stdout
    assert "error: ce_corrupted failed to load 3 times" in result.stderr
    tail = result.stderr.split("--- last lines of", 1)[1]
    assert "model_log.log" in result.stderr and "INVALID_PROTOBUF" in tail
    assert processes_mentioning(str(state)) == [], "a failed start left processes behind"
    assert "not running" in serve("status", *args).stdout
