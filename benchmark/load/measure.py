"""One measurement of load, shared by the load tools (serving_throughput, protocol_speed, peer_compare):
closed-loop clients against an endpoint for a window after a warm-up, and raw onnxruntime run as a
worker runs it, both as LevelResults (throughput, latency percentiles, failures, CPU)."""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from robustcifar.artifacts import ModelArtifacts, ModelMeta

from .http_load import BackgroundLoad, Sample, Target, failure_summary
from .machine import busy_cores, cpu_counters
from .onnx_baseline import BASELINE_BATCH_SIZES, measure_model


@dataclass
class LevelResult:
    level: int
    per_second: float
    p50_ms: float
    p95_ms: float
    p99_ms: float
    measured: int
    failed: int = 0
    client_cpu_share: float | None = None  # client CPU seconds per wall second (1.0 = one core)
    mean_batch: float | None = None
    machine_busy: float | None = None  # busy cores of the whole machine meanwhile (others' work shows here)


def window_result(level: int, samples: list[Sample], begin: float, end: float) -> LevelResult:
    """Throughput of the requests answered inside [begin, end], latency of those sent inside it."""
    answered = [s for s in samples if begin <= s.started + s.latency_s <= end and s.status == 200]
    sent = [s.latency_s for s in samples if begin <= s.started <= end and s.status == 200]
    failed = sum(1 for s in samples if begin <= s.started <= end and s.status != 200)
    p50, p95, p99 = (float(np.percentile(sent, q)) * 1e3 if sent else float("nan") for q in (50, 95, 99))
    return LevelResult(level, len(answered) / (end - begin), p50, p95, p99, len(sent), failed)


def measure_endpoint(target: Target, concurrency: int, warmup_s: float,
                     duration_s: float) -> tuple[LevelResult, dict[int, int]]:
    load = BackgroundLoad(target, concurrency)
    load.start()
    time.sleep(warmup_s)
    begin, cpu_begin, machine_begin = time.perf_counter(), time.process_time(), cpu_counters()
    time.sleep(duration_s)
    end, cpu_end, machine_end = time.perf_counter(), time.process_time(), cpu_counters()
    load.stop()
    result = window_result(concurrency, load.samples, begin, end)
    result.client_cpu_share = (cpu_end - cpu_begin) / (end - begin)
    result.machine_busy = busy_cores(machine_begin, machine_end)
    return result, failure_summary([s for s in load.samples if begin <= s.started <= end])


def measure_raw(artifacts: ModelArtifacts, threads: int, seconds: float,
                batch_sizes: tuple[int, ...] = BASELINE_BATCH_SIZES) -> dict[int, LevelResult]:
    """The baseline at batch 1 and the server's batch size (and a v2 request's), as LevelResults (level = batch size)."""
    meta = ModelMeta.load(artifacts.meta) if artifacts.meta.is_file() else None
    embedder = meta is not None and meta.kind == "embedder"
    results = measure_model(artifacts.onnx, artifacts.gallery if embedder else None,
                            (meta.knn_k or 10) if embedder else 10, batch_sizes, seconds, threads)
    return {r.batch_size: LevelResult(r.batch_size, r.images_per_s, r.p50_ms, r.p95_ms, r.p99_ms, r.calls)
            for r in results}
