"""The serving configuration: one dataclass, shared by the server (serve/) and every client of it
(the benchmark, the load tools, the container scripts), so ports and URLs are written once.

serve/config.py renders TorchServe's config.properties from it."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from robustcifar.config import shared_field

from ..paths import project_root
from ..worker_settings import SERVING_BATCH_SIZE, worker_threads

# Every address but the public inference edge's: management, metrics, gRPC, TorchServe's own
# inference port. Not configurable on purpose (the model-control surface never leaves the host).
LOOPBACK = "127.0.0.1"


@dataclass
class ServeConfig:
    models: str = shared_field("models")
    seeds: str = shared_field("seeds")
    artifacts: Path | None = shared_field("artifacts")
    state_dir: Path | None = field(default=None, metadata={"help": "logs, pid file, rendered config"})
    host: str = field(default=LOOPBACK, metadata={
        "help": "address of the public inference edge only (0.0.0.0 in a container); the rest stays on 127.0.0.1"})
    inference_port: int = field(default=8080, metadata={"help": "public inference port (the nginx edge)"})
    backend_port: int = field(default=8079, metadata={"help": "TorchServe's own inference port, loopback only"})
    management_port: int = field(default=8081, metadata={"help": "TorchServe's management API, loopback only"})
    metrics_port: int = field(default=8082, metadata={"help": "TorchServe's Prometheus metrics, loopback only"})
    # TorchServe always starts gRPC servers too: loopback, and ports of their own so that two
    # servers (a developer's and a test's) can run side by side.
    grpc_inference_port: int = field(default=7070, metadata={"help": "TorchServe's gRPC inference, loopback only"})
    grpc_management_port: int = field(default=7071, metadata={"help": "TorchServe's gRPC management, loopback only"})
    workers_per_model: int = field(default=1, metadata={"help": "worker processes per model"})
    # Dynamic batching, written into each archive's model-config.yaml. Measured on the 2-core VM
    # (README, Serving performance): with 8, sixteen clients keep one batch computing while the
    # next one queues; 1 ms is the least TorchServe accepts (0 means its default of 100 ms).
    batch_size: int = field(default=SERVING_BATCH_SIZE, metadata={"help": "TorchServe dynamic batching: most requests per batch"})
    max_batch_delay_ms: int = field(default=1, metadata={"help": "longest wait to fill a batch (>= 1)"})
    ort_threads: int = field(default=0, metadata={"help": "onnxruntime threads per worker (0: one per core)"})
    # Admission control at the edge (README, Overload): beyond this many requests in flight or
    # waiting for one model, nginx answers 503 with Retry-After at once, without touching TorchServe,
    # whose own queue (100 per model) stays as the second guard.
    admission_limit: int = field(default=-1, metadata={
        "help": "requests in flight or waiting per model before the edge refuses (-1: 8 batches per worker; 0: off)"})
    retry_after_s: int = field(default=1, metadata={"help": "Retry-After of the edge's overload refusals, seconds"})
    edge_priority: int = field(default=10, metadata={
        "help": "nice value of the edge's worker: above TorchServe's, so refusing excess load never starves the model"})
    max_request_mb: float = field(default=8.0, metadata={"help": "larger bodies get 413"})
    max_batch_images: int = field(default=256, metadata={
        "help": "most images one Open Inference Protocol (v2) request may carry; they run as one batch"})
    # Measured on the 2-core VM (README, Serving performance): the serial collector and C1-only
    # JIT take less of the CPU that onnxruntime needs than the JVM's defaults (G1, C2).
    jvm_options: str = field(default="-XX:+UseSerialGC -XX:TieredStopAtLevel=1", metadata={
        "help": "options for TorchServe's JVM ('' for the JVM's defaults)"})
    token_auth: bool = field(default=False, metadata={"help": "require TorchServe's API tokens (key_file.json)"})
    token_expiration_min: float = field(default=60.0, metadata={
        "help": "lifetime of the inference and management keys; renew them with the API key (README)"})
    startup_timeout: float = field(default=300.0, metadata={"help": "seconds `serve start` waits for every model"})
    response_timeout_s: int = field(default=60, metadata={"help": "seconds a worker may take for one batch"})

    def resolved_state_dir(self) -> Path:
        return Path(self.state_dir) if self.state_dir else project_root() / "logs" / "torchserve"

    def resolved_admission_limit(self) -> int:
        """0 means no limit; -1 resolves to eight batches for every worker of a model: at the 2-core VM's
        capacity (230-340 answers/s) that is 0.2-0.3 s of queue, and 64 closed-loop clients (the
        serving figures' top level) are all admitted."""
        if self.admission_limit >= 0:
            return self.admission_limit
        return 8 * self.batch_size * self.workers_per_model

    def resolved_ort_threads(self) -> int:
        return worker_threads(self.ort_threads)

    def internal_url(self, port: int) -> str:
        return f"http://{LOOPBACK}:{port}"

    def public_url(self) -> str:
        """The inference edge as a local client reaches it (a wildcard address is reached on loopback)."""
        host = LOOPBACK if self.host in ("0.0.0.0", "::", "[::]") else self.host
        return f"http://{host}:{self.inference_port}"

    def management_url(self) -> str:
        return self.internal_url(self.management_port)

    def metrics_url(self) -> str:
        return self.internal_url(self.metrics_port)

    def loopback_ports(self) -> tuple[int, ...]:
        return (self.backend_port, self.management_port, self.metrics_port,
                self.grpc_inference_port, self.grpc_management_port)
