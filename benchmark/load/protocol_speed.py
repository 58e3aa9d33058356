"""How fast the accuracy pass is in each protocol, against raw onnxruntime, in one run:

    make serve
    .venv/bin/python -m benchmark.load.protocol_speed --model ce_clean

1. The accuracy pass as the benchmark sends it (its own client, benchmark/accuracy/client.py) over the
   same clean test images: through /predictions (one PNG per request, 16 in flight), and through v2
   (binary tensors of --batch images per request, --v2-concurrency in flight).
2. Raw onnxruntime in-process, run as a worker runs it (benchmark/load/onnx_baseline.py) at batch 1,
   the server's batch size and --batch, with the workers' threads.
3. /predictions under 16 closed-loop clients (benchmark/load/http_load.py), against raw onnxruntime
   at the server's batch size.

Printed with the ratios next to their targets (v2 pass >= 3x the /predictions pass and >= 80% of raw
at the same batch; /predictions at 16 clients >= 86% of raw, goal 95%), and written to
reports/protocol_speed.json. Nothing is asserted: figures are measured, not tested.
"""

from __future__ import annotations

import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from robustcifar.artifacts import ModelArtifacts
from robustcifar.config import shared_field
from robustcifar.datasets import chosen_indices, load_cifar10
from robustcifar.errors import UsageError
from robustcifar.provenance import run_started
from robustcifar.serving.client import ServerOptions
from robustcifar.serving.hosts import require_loopback
from robustcifar.serving.protocols import PREDICTIONS, V2Protocol, fetch_v2_contract
from robustcifar.worker_settings import SERVING_BATCH_SIZE, worker_threads

from ..accuracy.client import PredictionClient
from .measure import measure_endpoint, measure_raw
from .reports import tool_main, write_report
from .targets import prediction_target

V2_OVER_PREDICTIONS = 3.0
V2_SHARE_OF_RAW = 0.80
PREDICTIONS_SHARE_OF_RAW = 0.86
PREDICTIONS_GOAL = 0.95


@dataclass
class ProtocolSpeedConfig(ServerOptions):
    model: str = field(default="ce_clean", metadata={"help": "the model measured"})
    artifacts: Path | None = shared_field("artifacts")
    data: str = shared_field("data")
    data_dir: Path | None = shared_field("data_dir")
    images: int = field(default=2000, metadata={"help": "clean test images each accuracy pass sends (class-balanced)"})
    batch: int = field(default=64, metadata={"help": "images per v2 request, and the raw batch it is compared with"})
    v2_concurrency: int = field(default=2, metadata={"help": "v2 requests in flight (the benchmark's default)"})
    predictions_concurrency: int = field(default=16, metadata={"help": "/predictions requests in flight"})
    ort_threads: int = field(default=0, metadata={"help": "the workers' onnxruntime threads (0: one per core, the server's default)"})
    duration_s: float = field(default=15.0, metadata={"help": "seconds per raw batch size and of the 16-client load"})
    warmup_s: float = field(default=3.0, metadata={"help": "unmeasured seconds before each measurement"})
    out: Path | None = field(default=None, metadata={"help": "JSON output (default reports/protocol_speed.json)"})


@dataclass
class Pass:
    name: str
    images: int
    seconds: float
    failed: int

    @property
    def images_per_s(self) -> float:
        return self.images / self.seconds


def accuracy_pass(config: ProtocolSpeedConfig, images, protocol, concurrency: int, name: str) -> Pass:
    key = config.keys().get("inference")
    with PredictionClient(config.url, concurrency, 60.0, token=key, protocol=protocol) as client:
        client.predict(config.model, images[: protocol.images_per_request * concurrency])  # warm the connections
        started = time.perf_counter()
        predictions = client.predict(config.model, images)
        seconds = time.perf_counter() - started
    return Pass(name, len(images), seconds, sum(p.class_id is None for p in predictions))


def run(config: ProtocolSpeedConfig) -> dict:
    started = run_started()
    require_loopback(config.url)
    artifacts = ModelArtifacts.for_model(config.model, config.artifacts)
    if not artifacts.onnx.is_file():
        raise UsageError(f"{artifacts.onnx} does not exist; run `make export` first")
    data = load_cifar10(config.data, config.data_dir)
    images = data.test_images[chosen_indices(data.test_labels, max(1, config.images // 10), 0)]
    v2 = V2Protocol(fetch_v2_contract(config.url, config.model, config.inference_headers()), config.batch)
    passes = [accuracy_pass(config, images, PREDICTIONS, config.predictions_concurrency, "/predictions"),
              accuracy_pass(config, images, v2, config.v2_concurrency, f"v2 x{config.batch}")]
    for p in passes:
        print(f"[speed] accuracy pass, {p.name:<14}: {p.images} images in {p.seconds:6.1f} s = "
              f"{p.images_per_s:7.1f} img/s ({p.failed} failed)", flush=True)
    threads = worker_threads(config.ort_threads)
    raw = measure_raw(artifacts, threads, config.duration_s, tuple(sorted({1, SERVING_BATCH_SIZE, config.batch})))
    for batch, result in raw.items():
        print(f"[speed] raw onnxruntime, batch {batch:>3}: {result.per_second:7.1f} img/s", flush=True)
    target = prediction_target(config, config.model, protocol=PREDICTIONS)
    sixteen, failures = measure_endpoint(target, 16, config.warmup_s, config.duration_s)
    print(f"[speed] /predictions, 16 closed-loop clients: {sixteen.per_second:7.1f} img/s, p50 {sixteen.p50_ms:.2f} ms",
          flush=True)

    by_name = {p.name: p for p in passes}
    v2_pass, predictions_pass = by_name[f"v2 x{config.batch}"], by_name["/predictions"]
    figures = [  # (what, value, target, written as a factor or a share)
        ("v2 pass / /predictions pass", v2_pass.images_per_s / predictions_pass.images_per_s, V2_OVER_PREDICTIONS,
         "x"),
        (f"v2 pass / raw at batch {config.batch}", v2_pass.images_per_s / raw[config.batch].per_second,
         V2_SHARE_OF_RAW, "%"),
        (f"/predictions at 16 clients / raw at batch {SERVING_BATCH_SIZE}",
         sixteen.per_second / raw[SERVING_BATCH_SIZE].per_second, PREDICTIONS_SHARE_OF_RAW, "%"),
    ]
    lines = []
    for name, value, wanted, unit in figures:
        shown, goal = (f"{value:.2f}x", f"{wanted:g}x") if unit == "x" else (f"{value:.0%}", f"{wanted:.0%}")
        lines.append(f"{name}: {shown} (target >= {goal}: {'met' if value >= wanted else 'NOT met'})")
    lines[-1] += f"; goal {PREDICTIONS_GOAL:.0%}"
    print("\n".join(f"[speed] {line}" for line in lines))
    report = {"model": config.model, "threads": threads, "passes": [{**asdict(p), "images_per_s": p.images_per_s}
                                                                     for p in passes],
              "raw_onnxruntime": {str(b): asdict(r) for b, r in raw.items()}, "predictions_16_clients": asdict(sixteen),
              "failures_16_clients": {str(k): v for k, v in failures.items()}, "figures": lines,
              }
    return write_report(report, config, started, "protocol_speed", "speed")


def main(argv: list[str] | None = None) -> int:
    return tool_main(ProtocolSpeedConfig, run, argv, __doc__)


if __name__ == "__main__":
    sys.exit(main())
