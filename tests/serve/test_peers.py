"""Clients and servers nobody here wrote, from their own environments (.venv-peers and .venv-kserve,
`make peers`): Triton's HTTP client and KServe's Python client talk to our server's v2 API and get
what onnxruntime gives; Seldon MLServer
serves one of our ONNX files (examples/mlserver) and our benchmark, pointed at it with the model's
contract declared, gives the same answers image for image as through our server."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import requests
from fakeserving import expected_outputs, free_ports

from benchmark.accuracy.outcomes import Outcomes

pytestmark = [pytest.mark.slow, pytest.mark.integration]
ROOT = Path(__file__).resolve().parents[2]
PEERS_PYTHON = ROOT / ".venv-peers" / "bin" / "python"
KSERVE_PYTHON = ROOT / ".venv-kserve" / "bin" / "python"


def environment(python: Path) -> Path:
    if not python.is_file():
        if os.environ.get("CI") == "true":
            pytest.fail(f"{python.parents[1].name} is missing: `make peers` (make test installs it)")
        pytest.skip(f"{python.parents[1].name} is missing: `make peers`")
    return python


@pytest.fixture(scope="module")
def peers_python() -> Path:
    return environment(PEERS_PYTHON)


@pytest.mark.parametrize("model", ["ce_clean", "angular"])
def test_kserves_client_talks_to_our_v2_api(served, model, tmp_path):
    python = environment(KSERVE_PYTHON)
    out = tmp_path / "kserve.npz"
    done = subprocess.run([str(python), str(ROOT / "tests" / "peers" / "kserve_client.py"), served.url, model, str(out)],
                          capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    got = np.load(out)
    assert bool(got["server_ready"]) and bool(got["model_ready"])
    want = expected_outputs(served.artifacts, model, got["images"])
    assert np.array_equal(got["class_id"], want["class_id"])
    assert got["confidence"] == pytest.approx(want["confidence"], abs=1e-6)


@pytest.mark.parametrize("model", ["ce_clean", "angular"])
def test_tritonclient_talks_to_our_v2_api(served, peers_python, model, tmp_path):
    out = tmp_path / "triton.npz"
    done = subprocess.run([str(peers_python), str(ROOT / "tests" / "peers" / "triton_client.py"), served.url, model,
                           str(out)], capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    got = np.load(out)
    assert bool(got["server_ready"]) and bool(got["server_live"]) and bool(got["model_ready"])
    metadata = json.loads(str(got["metadata"]))
    assert metadata["name"] == model and {i["name"] for i in metadata["inputs"]} == {"pixels", "image"}
    for n in (1, 8, 256):
        want = expected_outputs(served.artifacts, model, got[f"images_{n}"])
        for binary in (True, False):
            assert np.array_equal(got[f"class_id_{n}_{binary}"], want["class_id"])
            assert got[f"confidence_{n}_{binary}"] == pytest.approx(want["confidence"], abs=1e-6)
    assert "UINT8 [N, 32, 32, 3]" in str(got["bad_error"])


@pytest.fixture(scope="module")
def mlserver(served, peers_python, tmp_path_factory):
    """MLServer serving our server's ce_clean model.onnx, through examples/mlserver's runtime."""
    folder = tmp_path_factory.mktemp("mlserver")
    http, grpc, metrics = free_ports(3)
    subprocess.run([sys.executable, str(ROOT / "examples" / "mlserver" / "write_settings.py"), "--onnx",
                    str(served.artifacts / "ce_clean" / "model.onnx"), "--name", "ce_clean", "--folder", str(folder),
                    "--http-port", str(http), "--grpc-port", str(grpc), "--metrics-port", str(metrics)], check=True)
    log = open(folder / "mlserver.log", "wb")  # noqa: SIM115 - closed below
    process = subprocess.Popen([str(peers_python.with_name("mlserver")), "start", str(folder)], cwd=folder,
                               stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{http}"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                if requests.get(f"{url}/v2/models/ce_clean/ready", timeout=2).status_code == 200:
                    break
            except requests.RequestException:
                pass
            assert process.poll() is None and time.monotonic() < deadline, (folder / "mlserver.log").read_text()[-3000:]
            time.sleep(0.5)
        yield url
    finally:
        os.killpg(process.pid, 15)
        process.wait(30)
        log.close()


def benchmark(url: str, out: Path, data: Path, *extra: str) -> Outcomes:
    args = [sys.executable, "-m", "benchmark", "--url", url, "--models", "ce_clean", "--profile", "quick",
            "--per-class", "2", "--corruptions", "fog", "gaussian_noise", "jpeg_compression", "--no-latency",
            "--protocol", "v2", "--batch", "8", "--data", str(data), "--data-dir", str(out / "data"),
            "--bootstrap", "50", "--no-progress", "--out", str(out / "run"), *extra]
    done = subprocess.run(args, cwd=ROOT, capture_output=True, text=True, timeout=600, check=False)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    return Outcomes.load(out / "run" / "outcomes.npz")


def test_the_benchmark_measures_mlserver_as_it_measures_us(served, mlserver, tiny_image_folder, tmp_path):
    ours = benchmark(served.url, tmp_path / "ours", tiny_image_folder, "--artifacts", str(served.artifacts))
    theirs = benchmark(mlserver, tmp_path / "theirs", tiny_image_folder, "--v2-output", "logits", "--output", "logits",
                       "--layout", "NHWC", "--dtype", "uint8")
    assert ours.corruptions == theirs.corruptions and not theirs.failed["ce_clean"].any()
    assert np.array_equal(ours.predicted["ce_clean"], theirs.predicted["ce_clean"])
    assert np.allclose(ours.confidence["ce_clean"], theirs.confidence["ce_clean"], atol=1e-6)
