"""Serving configuration (one dataclass) and the TorchServe config.properties rendered from it."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from robustcifar.paths import project_root
from robustcifar.worker_settings import SERVING_BATCH_SIZE, worker_threads

# Every address but the public inference edge's: management, metrics, gRPC, TorchServe's own
# inference port. Not configurable on purpose (the model-control surface never leaves the host).
LOOPBACK = "127.0.0.1"
METRICS_CONFIG = Path(__file__).with_name("metrics.yaml")


@dataclass
class ServeConfig:
    models: str = field(default="all", metadata={"help": "'all' or comma-separated model names"})
    seeds: str = field(default="", metadata={"help": "comma-separated training seeds: each of our models stands for its run with each seed (<model>-seed<N>)"})
    artifacts: Path | None = None
    state_dir: Path | None = field(default=None, metadata={"help": "logs, pid file, rendered config"})
    host: str = field(default=LOOPBACK, metadata={
        "help": "address of the public inference edge only (0.0.0.0 in a container); the rest stays on 127.0.0.1"})
    inference_port: int = field(default=8080, metadata={"help": "public inference port (the nginx edge)"})
    backend_port: int = field(default=8079, metadata={"help": "TorchServe's own inference port, loopback only"})
    management_port: int = 8081
    metrics_port: int = 8082
    # TorchServe always starts gRPC servers too: loopback, and ports of their own so that two
    # servers (a developer's and a test's) can run side by side.
    grpc_inference_port: int = 7070
    grpc_management_port: int = 7071
    workers_per_model: int = 1
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
    # Measured on the 2-core VM (README, Serving performance): the serial collector and C1-only
    # JIT take less of the CPU that onnxruntime needs than the JVM's defaults (G1, C2).
    jvm_options: str = field(default="-XX:+UseSerialGC -XX:TieredStopAtLevel=1", metadata={
        "help": "options for TorchServe's JVM ('' for the JVM's defaults)"})
    token_auth: bool = field(default=False, metadata={"help": "require TorchServe's API tokens (key_file.json)"})
    token_expiration_min: float = field(default=60.0, metadata={
        "help": "lifetime of the inference and management keys; renew them with the API key (README)"})
    startup_timeout: float = 300.0
    response_timeout_s: int = 60

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

    def loopback_ports(self) -> tuple[int, ...]:
        return (self.backend_port, self.management_port, self.metrics_port,
                self.grpc_inference_port, self.grpc_management_port)


def literal_regex(text: str) -> str:
    """`text` as a Java regex that matches only itself, spelled for a .properties file (whose reader
    halves backslashes): metacharacters go in brackets, brackets and backslashes are escaped."""
    out = []
    for char in text:
        if char in ".+*?^$(){}|":
            out.append(f"[{char}]")
        elif char in "[]":
            out.append("\\\\" + char)
        elif char == "\\":
            out.append("\\" * 4)
        else:
            out.append(char)
    return "".join(out)


def render_properties(config: ServeConfig, model_store: Path) -> str:
    """config.properties: loopback-only addresses, no remote model registration, no model API."""
    max_bytes = int(config.max_request_mb * 1024 * 1024)
    lines = {
        "inference_address": config.internal_url(config.backend_port),
        "management_address": config.internal_url(config.management_port),
        "metrics_address": config.internal_url(config.metrics_port),
        "grpc_inference_address": LOOPBACK,
        "grpc_management_address": LOOPBACK,
        "grpc_inference_port": str(config.grpc_inference_port),
        "grpc_management_port": str(config.grpc_management_port),
        "model_store": str(model_store),
        "load_models": "all",
        "default_workers_per_model": str(config.workers_per_model),
        # Models come only from our own store: no registration from URLs, no model-control API.
        "allowed_urls": f"file://{literal_regex(str(model_store))}/.*",
        "enable_model_api": "false",
        "disable_token_authorization": "false" if config.token_auth else "true",
        "install_py_dep_per_model": "false",
        # Hand request bodies to the handler as bytes, whatever their Content-Type.
        "decode_input_request": "false",
        "max_request_size": str(max_bytes),
        "max_response_size": str(max_bytes),
        "metrics_mode": "prometheus",
        "metrics_config": str(METRICS_CONFIG),
        "default_response_timeout": str(config.response_timeout_s),
        # Settings come from this file only, never from TS_* variables of whoever starts it.
        "enable_envvars_config": "false",
        # Log lines are written by a background thread, not by the thread answering the request.
        "async_logging": "true",
    }
    if config.token_auth:
        lines["token_expiration_min"] = f"{config.token_expiration_min:g}"
    if config.jvm_options.strip():
        lines["vmargs"] = config.jvm_options.strip()
    return "".join(f"{key}={value}\n" for key, value in lines.items())
