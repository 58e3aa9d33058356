"""Raw onnxruntime in-process: the one baseline every served figure is compared with.

`python -m benchmark.load.onnx_baseline --onnx model.onnx [--gallery gallery.npz --knn-k 10]` runs the
exported network (and, for embedders, the same kNN vote the handler does) on random images for a
few seconds per batch size, and prints one JSON line. No HTTP, no image decoding, no JSON: the
ceiling that serving overheads are measured against.

It runs the model exactly as a serving worker does (robustcifar.onnx_model: worker_session and
worker_environment): the same thread count, no spinning, single-threaded BLAS, and by default batch
1 and the server's batch size (8), since the server never runs a larger batch. Each model is
measured in a fresh subprocess (`measure_model`), so no thread pool of an earlier measurement
competes with the one being timed. Used by the benchmark's latency part (benchmark/load/latency.py) and
by benchmark/load/serving_throughput.py.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from robustcifar.classes import NUM_CLASSES
from robustcifar.config import parse_config
from robustcifar.gallery import Gallery
from robustcifar.knn import knn_classify
from robustcifar.onnx_model import worker_session
from robustcifar.paths import project_root
from robustcifar.worker_settings import SERVING_BATCH_SIZE, worker_environment, worker_threads

BASELINE_BATCH_SIZES = (1, SERVING_BATCH_SIZE)


class BaselineError(RuntimeError):
    """The in-process onnxruntime baseline could not run (its process failed)."""


@dataclass
class BaselineConfig:
    onnx: Path = field(default=Path("model.onnx"), metadata={"help": "the model file"})
    gallery: Path | None = field(default=None, metadata={"help": "gallery.npz: also time the kNN vote (embedders)"})
    knn_k: int = field(default=10, metadata={"help": "neighbours of the kNN vote (embedders)"})
    batch_sizes: tuple[int, ...] = field(default=BASELINE_BATCH_SIZES, metadata={"help": "batch sizes timed"})
    seconds: float = field(default=3.0, metadata={"help": "seconds per batch size"})
    threads: int = field(default=0, metadata={"help": "onnxruntime intra-op threads (0: one per core, as the workers)"})
    warmup: int = field(default=10, metadata={"help": "untimed calls first"})
    seed: int = field(default=0, metadata={"help": "seed of the random images"})


@dataclass
class BaselineResult:
    """One batch size: per-call latency percentiles (ms) and images per second."""

    batch_size: int
    calls: int
    images_per_s: float
    p50_ms: float
    p95_ms: float
    p99_ms: float
    mean_ms: float


def time_calls(run, batch: np.ndarray, seconds: float, warmup: int) -> BaselineResult:
    for _ in range(warmup):
        run(batch)
    durations = []
    started = time.perf_counter()
    while time.perf_counter() - started < seconds or len(durations) < 5:
        t0 = time.perf_counter()
        run(batch)
        durations.append(time.perf_counter() - t0)
    elapsed = time.perf_counter() - started
    ms = np.array(durations) * 1000
    return BaselineResult(len(batch), len(durations), len(durations) * len(batch) / elapsed,
                          *(float(v) for v in np.percentile(ms, [50, 95, 99])), float(ms.mean()))


def build_runner(config: BaselineConfig):
    model = worker_session(config.onnx, worker_threads(config.threads))
    if config.gallery is None:
        return model.run
    gallery = Gallery.load(config.gallery)

    def embed_and_vote(batch: np.ndarray):
        return knn_classify(model.run(batch), gallery.embeddings, gallery.labels, config.knn_k, NUM_CLASSES)

    return embed_and_vote


def measure(config: BaselineConfig) -> list[BaselineResult]:
    run = build_runner(config)
    rng = np.random.default_rng(config.seed)
    return [time_calls(run, rng.integers(0, 256, (b, 32, 32, 3), dtype=np.uint8), config.seconds, config.warmup)
            for b in config.batch_sizes]


def measure_model(onnx: Path, gallery: Path | None, knn_k: int, batch_sizes: tuple[int, ...], seconds: float,
                  threads: int = 0) -> list[BaselineResult]:
    """Run `measure` in a fresh Python process and read its JSON line."""
    command = [sys.executable, "-m", "benchmark.load.onnx_baseline", "--onnx", str(onnx), "--knn-k", str(knn_k),
               "--seconds", str(seconds), "--threads", str(threads), "--batch-sizes", *map(str, batch_sizes)]
    if gallery is not None:
        command += ["--gallery", str(gallery)]
    timeout = 120 + 2 * seconds * len(batch_sizes)
    done = subprocess.run(command, cwd=project_root(), capture_output=True, text=True, timeout=timeout, check=False,
                          env={**os.environ, **worker_environment(worker_threads(threads))})
    lines = done.stdout.strip().splitlines()
    if done.returncode != 0 or not lines:
        raise BaselineError(f"onnxruntime baseline failed on {onnx}: {(done.stderr or done.stdout).strip()[-500:]}")
    return [BaselineResult(**r) for r in json.loads(lines[-1])]


def main(argv: list[str] | None = None) -> int:
    config = parse_config(BaselineConfig, argv, __doc__)
    if not config.onnx.is_file():
        print(f"error: no ONNX model at {config.onnx}", file=sys.stderr)
        return 2
    print(json.dumps([asdict(r) for r in measure(config)]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
