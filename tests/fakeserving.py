"""Helpers for tests that start a real TorchServe: tiny exported models, free ports, a handle on
the running server.

The tiny models have the real interface (uint8 NHWC pixels in, 10 logits or a unit 128-d embedding
out, meta.json, gallery.npz) but a few hundred weights, so archives build and workers start fast.
"""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import onnx
import requests
from onnx import TensorProto, helper

from robustcifar.artifacts import ModelArtifacts, ModelMeta
from robustcifar.classes import CLASS_NAMES
from robustcifar.gallery import Gallery
from robustcifar.imaging import encode_png, preprocess_image_bytes
from robustcifar.onnx_model import OnnxModel
from robustcifar.predictions import classifier_answers, embedder_answers

ROOT = Path(__file__).resolve().parents[1]
EMBEDDING_DIM = 128


def tiny_onnx(path: Path, kind: str, seed: int = 0) -> None:
    """pixels -> mean colour (3) -> linear -> logits (10), or -> L2-normalised embedding (128)."""
    rng = np.random.default_rng(seed)
    out_dim = len(CLASS_NAMES) if kind == "classifier" else EMBEDDING_DIM
    output_name = "logits" if kind == "classifier" else "embedding"
    weights = helper.make_tensor("w", TensorProto.FLOAT, [3, out_dim], (rng.normal(size=3 * out_dim) / 64).tolist())
    bias = helper.make_tensor("b", TensorProto.FLOAT, [out_dim], rng.normal(size=out_dim).tolist())
    nodes = [
        helper.make_node("Cast", ["pixels"], ["x"], to=TensorProto.FLOAT),
        helper.make_node("ReduceMean", ["x"], ["mean"], axes=[1, 2], keepdims=0),
        helper.make_node("MatMul", ["mean", "w"], ["projected"]),
        helper.make_node("Add", ["projected", "b"], ["raw" if kind == "embedder" else output_name]),
    ]
    if kind == "embedder":
        nodes.append(helper.make_node("LpNormalization", ["raw"], [output_name], axis=1, p=2))
    graph = helper.make_graph(
        nodes, f"tiny_{kind}",
        [helper.make_tensor_value_info("pixels", TensorProto.UINT8, ["batch", 32, 32, 3])],
        [helper.make_tensor_value_info(output_name, TensorProto.FLOAT, ["batch", out_dim])],
        [weights, bias],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)
    onnx.checker.check_model(model)
    path.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(model, path)


def write_tiny_model(root: Path, name: str, kind: str, meta_kind: str | None = None) -> ModelArtifacts:
    """A model folder as `make export` leaves it. `meta_kind` other than `kind` makes a model whose
    handler fails on every request (a classifier's 10 logits against a 128-d gallery)."""
    artifacts = ModelArtifacts.for_model(name, root)
    tiny_onnx(artifacts.onnx, kind)
    meta_kind = meta_kind or kind
    ModelMeta(name=name, kind=meta_kind, class_names=list(CLASS_NAMES),
              output_name="logits" if kind == "classifier" else "embedding", onnx_sha256="tiny",
              knn_k=5 if meta_kind == "embedder" else None).save(artifacts.meta)
    if meta_kind == "embedder":
        rng = np.random.default_rng(1)
        embeddings = rng.normal(size=(200, EMBEDDING_DIM)).astype(np.float32)
        embeddings /= np.linalg.norm(embeddings, axis=1, keepdims=True)
        Gallery(embeddings, rng.integers(0, len(CLASS_NAMES), 200)).save(artifacts.gallery)
    return artifacts


class LocalHTTPServer(ThreadingHTTPServer):
    """A threaded loopback server for stand-ins. Its listen backlog is nginx's, not socketserver's 5: with 5,
    16 clients connecting at once get an occasional connection reset from the kernel (seen in CI as one
    ConnectionError in 560 requests), which would be the stand-in's fault, not the client's."""

    request_queue_size = 511
    daemon_threads = True


@contextmanager
def local_http_server(handler: type[BaseHTTPRequestHandler]) -> Iterator[LocalHTTPServer]:
    """A LocalHTTPServer on a free port serving `handler` from a thread, shut down on exit."""
    server = LocalHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def free_ports(count: int) -> list[int]:
    sockets = [socket.socket() for _ in range(count)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


def port_options(ports: list[int]) -> list[str]:
    names = ("inference-port", "backend-port", "management-port", "metrics-port",
             "grpc-inference-port", "grpc-management-port")
    return [item for name, port in zip(names, ports) for item in (f"--{name}", str(port))]


def worker_environment() -> dict[str, str]:
    """Variables for a server started from this checkout: its workers import this `robustcifar`,
    whatever the virtualenv's editable install points at."""
    previous = os.environ.get("PYTHONPATH")
    return {"PYTHONPATH": str(ROOT) + (os.pathsep + previous if previous else "")}


def processes_mentioning(text: str) -> list[str]:
    found = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            command = cmdline.read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if text in command:
            found.append(command)
    return found


def png(seed: int = 0, shape: tuple[int, ...] = (32, 32, 3)) -> bytes:
    return encode_png(np.random.default_rng(seed).integers(0, 256, shape, dtype=np.uint8))


@dataclass
class Served:
    """A running server: its public URL, the loopback management and metrics URLs, its files."""

    url: str
    management: str
    metrics: str
    artifacts: Path
    state_dir: Path
    ports: list[int]

    def predict(self, model: str, body: bytes = b"", **kwargs) -> requests.Response:
        return requests.post(f"{self.url}/predictions/{model}", data=body, timeout=30, **kwargs)

    def workers(self, model: str) -> list[dict]:
        return requests.get(f"{self.management}/models/{model}", timeout=10).json()[0]["workers"]

    def wait_for_new_worker(self, model: str, old_pid: int, timeout_s: float = 60.0) -> int:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            try:
                workers = self.workers(model)
            except (requests.RequestException, ValueError, KeyError, IndexError):
                workers = []
            if workers and all(w["status"] == "READY" and w["pid"] != old_pid for w in workers):
                return workers[0]["pid"]
            time.sleep(0.5)
        raise AssertionError(f"no new READY worker for {model} within {timeout_s} s")

    def model_log(self) -> str:
        path = self.state_dir / "logs" / "model_log.log"
        return path.read_text(errors="replace") if path.is_file() else ""


def expected_answer(artifacts_root: Path, name: str, body: bytes) -> dict:
    """The answer the handler should give for `body`: onnxruntime run directly on the model's files."""
    artifacts = ModelArtifacts.for_model(name, artifacts_root)
    meta = ModelMeta.load(artifacts.meta)
    outputs = OnnxModel(artifacts.onnx).run(preprocess_image_bytes(body))
    if meta.kind == "classifier":
        return classifier_answers(name, outputs, list(CLASS_NAMES))[0]
    return embedder_answers(name, outputs, Gallery.load(artifacts.gallery), meta.knn_k, list(CLASS_NAMES))[0]


def expected_outputs(artifacts_root: Path, name: str, pixels: np.ndarray) -> dict[str, np.ndarray]:
    """The v2 outputs the handler should give for a batch of pixels: onnxruntime run directly, scipy's
    softmax for classifiers, the kNN vote over the gallery for embedders."""
    from scipy.special import softmax

    from robustcifar.knn import knn_classify

    artifacts = ModelArtifacts.for_model(name, artifacts_root)
    meta = ModelMeta.load(artifacts.meta)
    raw = OnnxModel(artifacts.onnx).run(pixels)
    if meta.kind == "classifier":
        probabilities = softmax(raw.astype(np.float64), axis=1)
        return {"probabilities": probabilities, "class_id": probabilities.argmax(axis=1),
                "confidence": probabilities.max(axis=1)}
    gallery = Gallery.load(artifacts.gallery)
    knn = knn_classify(raw, gallery.embeddings, gallery.labels, meta.knn_k, len(CLASS_NAMES))
    return {"embedding": raw, "class_id": knn.labels, "confidence": knn.confidence,
            "neighbor_class_ids": gallery.labels[knn.neighbor_indices]}


def prometheus_value(text: str, metric: str, label: str, model: str) -> float:
    total = 0.0
    for line in text.splitlines():
        if line.startswith(metric + "{") and f'{label}="{model}"' in line:
            total += float(line.rsplit(" ", 1)[1])
    return total


def metrics_text(served: Served) -> str:
    response = requests.get(f"{served.metrics}/metrics", timeout=10)
    assert response.status_code == 200
    return response.text
