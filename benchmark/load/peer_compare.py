"""Our server against a peer serving the same ONNX file, in one run, one table:

    make serve && make peers
    .venv/bin/python -m benchmark.load.peer_compare --model ce_clean --start-mlserver

The peer is Seldon MLServer with examples/mlserver's onnxruntime runtime (started here from
.venv-peers on free loopback ports, with our batching settings, `--start-mlserver`), or any v2 server
at --peer-url serving the classifier's ONNX as it is (input "pixels" UINT8 NHWC, output "logits").
Every row is closed-loop clients (benchmark/load/http_load.py) for --duration-s after a warm-up:
ours through /predictions and v2, the peer through v2 (it has no /predictions), one image per
request and --batch per request; images/s and p50 side by side. Written to
reports/peer_compare.json.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path

import requests

from robustcifar.artifacts import ModelArtifacts
from robustcifar.config import shared_field
from robustcifar.errors import UsageError
from robustcifar.input_spec import InputSpec
from robustcifar.paths import project_root
from robustcifar.provenance import run_started
from robustcifar.serving.client import ServerOptions
from robustcifar.serving.hosts import require_loopback
from robustcifar.serving.protocols import (
    PREDICTIONS,
    V2Contract,
    V2Protocol,
    fetch_v2_contract,
    supports_binary,
)
from robustcifar.worker_settings import THREADS_ENV, worker_threads

from .http_load import Target
from .measure import measure_endpoint
from .reports import tool_main, write_report
from .targets import random_images

# our classifiers' ONNX file as it is: what a peer serving it takes and answers
ONNX_CONTRACT = V2Contract("pixels", InputSpec("NHWC", "uint8", 1.0, (0.0, 0.0, 0.0), (1.0, 1.0, 1.0), "RGB", "logits"),
                           "logits", "logits", class_id=None)


@dataclass
class PeerConfig(ServerOptions):
    model: str = field(default="ce_clean", metadata={"help": "the model measured"})
    artifacts: Path | None = shared_field("artifacts")
    peer_url: str = field(default="", metadata={"help": "a running v2 peer serving artifacts/<model>/model.onnx"})
    start_mlserver: bool = field(default=False, metadata={
        "help": "start MLServer from .venv-peers for the run (examples/mlserver), instead of --peer-url"})
    levels: tuple[int, ...] = field(default=(1, 16), metadata={"help": "closed-loop clients per row"})
    batch: int = field(default=64, metadata={"help": "images per request in the batched rows"})
    duration_s: float = field(default=15.0, metadata={"help": "measured seconds per row"})
    warmup_s: float = field(default=3.0, metadata={"help": "unmeasured seconds before each measurement"})
    ort_threads: int = field(default=0, metadata={"help": "onnxruntime threads on both sides (0: one per core)"})
    out: Path | None = field(default=None, metadata={"help": "JSON output (default reports/peer_compare.json)"})


@dataclass
class Row:
    server: str
    protocol: str
    images_per_request: int
    clients: int
    images_per_s: float
    p50_ms: float
    failed: int


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def mlserver(onnx: Path, model: str, threads: int) -> Iterator[str]:
    peers = project_root() / ".venv-peers" / "bin"
    if not (peers / "mlserver").is_file():
        raise UsageError("MLServer is not installed: `make peers`")
    with tempfile.TemporaryDirectory(prefix="mlserver-") as folder:
        ports = [free_port() for _ in range(3)]
        subprocess.run([str(peers / "python"), str(project_root() / "examples" / "mlserver" / "write_settings.py"),
                        "--onnx", str(onnx), "--name", model, "--folder", folder, "--http-port", str(ports[0]),
                        "--grpc-port", str(ports[1]), "--metrics-port", str(ports[2])], check=True,
                       capture_output=True)
        with open(Path(folder) / "mlserver.log", "wb") as log:
            process = subprocess.Popen([str(peers / "mlserver"), "start", folder], cwd=folder, stdout=log,
                                       stderr=subprocess.STDOUT, start_new_session=True,
                                       env={**os.environ, THREADS_ENV: str(threads)})
        url = f"http://127.0.0.1:{ports[0]}"
        try:
            deadline = time.monotonic() + 120
            while not ready(url, model):
                if process.poll() is not None or time.monotonic() > deadline:
                    raise UsageError("MLServer did not start:\n" + (Path(folder) / "mlserver.log").read_text()[-2000:])
                time.sleep(0.5)
            yield url
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGTERM)
            process.wait(30)


def ready(url: str, model: str) -> bool:
    try:
        return requests.get(f"{url}/v2/models/{model}/ready", timeout=2).status_code == 200
    except requests.RequestException:
        return False


def measure_row(server: str, url: str, model: str, protocol, clients: int, config: PeerConfig,
                key: str | None = None) -> Row:
    target = Target.prediction(url, model, protocol, random_images(protocol.images_per_request), key, 60.0)
    result, _ = measure_endpoint(target, clients, config.warmup_s, config.duration_s)
    row = Row(server, protocol.name, protocol.images_per_request, clients,
              result.per_second * protocol.images_per_request, result.p50_ms, result.failed)
    print(f"[peer] {row.server:<8} {row.protocol:<11} x{row.images_per_request:<3} {row.clients:>3} clients: "
          f"{row.images_per_s:8.1f} img/s  p50 {row.p50_ms:8.2f} ms  failed {row.failed}", flush=True)
    return row


def table(rows: list[Row]) -> str:
    lines = ["| requests | clients | ours img/s | MLServer img/s | ours p50 ms | MLServer p50 ms |",
             "|---|---|---|---|---|---|"]
    peer = {(r.images_per_request, r.clients): r for r in rows if r.server != "ours"}
    for r in (r for r in rows if r.server == "ours"):
        other = peer.get((r.images_per_request, r.clients)) if r.protocol == "v2" else None
        label = "/predictions" if r.protocol == "predictions" else f"v2, {r.images_per_request} image(s) each"
        lines.append(f"| {label} | {r.clients} | {r.images_per_s:.1f} | "
                     f"{f'{other.images_per_s:.1f}' if other else '-'} | {r.p50_ms:.2f} | "
                     f"{f'{other.p50_ms:.2f}' if other else '-'} |")
    return "\n".join(lines)


def run(config: PeerConfig) -> dict:
    started = run_started()
    if bool(config.peer_url) == config.start_mlserver:
        raise UsageError("name the peer with --peer-url URL, or --start-mlserver (not both)")
    require_loopback(config.url)
    onnx = ModelArtifacts.for_model(config.model, config.artifacts).onnx
    if not onnx.is_file():
        raise UsageError(f"{onnx} does not exist; run `make export` first")
    threads, key = worker_threads(config.ort_threads), config.keys().get("inference")
    ours_contract = fetch_v2_contract(config.url, config.model, config.inference_headers())
    rows = []
    with contextlib.ExitStack() as stack:
        peer = config.peer_url or stack.enter_context(mlserver(onnx, config.model, threads))
        require_loopback(peer)
        peer_binary = supports_binary(peer)
        for images in (1, config.batch):
            for clients in config.levels:
                if images == 1:
                    rows.append(measure_row("ours", config.url, config.model, PREDICTIONS, clients, config, key))
                rows.append(measure_row("ours", config.url, config.model, V2Protocol(ours_contract, images), clients,
                                        config, key))
                rows.append(measure_row("MLServer", peer, config.model, V2Protocol(ONNX_CONTRACT, images, peer_binary),
                                        clients, config))
    text = table(rows)
    print(text)
    report = {"model": config.model, "threads": threads, "rows": [asdict(r) for r in rows], "table": text,
              }
    return write_report(report, config, started, "peer_compare", "peer")


def main(argv: list[str] | None = None) -> int:
    return tool_main(PeerConfig, run, argv, __doc__)


if __name__ == "__main__":
    sys.exit(main())
