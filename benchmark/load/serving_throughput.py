"""Throughput and latency of a live prediction endpoint next to raw onnxruntime, in one run.

    make serve
    .venv/bin/python -m benchmark.load.serving_throughput --model ce_clean

1. The baseline (benchmark/load/onnx_baseline.py, the same one `make benchmark` uses): raw onnxruntime
   on the same model.onnx the server loaded, run exactly as a worker runs it (threads, no
   spinning, single-threaded BLAS, the kNN vote for embedders), at batch 1 and at the server's
   batch size (8), in a fresh process.
2. The endpoint at concurrency 1, 4, 16, 64: closed-loop clients (benchmark/load/http_load.py, one
   keep-alive connection each, on one asyncio loop so that they take little of a small machine's
   CPU; its CPU time is measured and printed), each sending the next 32x32 PNG as soon as the
   previous answer arrived.

Every level also reports how many cores the whole machine kept busy meanwhile: the endpoint
cannot keep more than the machine busy, and raw onnxruntime alone keeps about its thread count
busy. Figures go to stdout and to reports/serving_throughput.json. Nothing is asserted: the
targets (endpoint at concurrency 16 >= 80% of raw at the server's batch size; p50 at concurrency 1
within 5 ms of raw at batch 1) are printed next to the measured figures.
"""

from __future__ import annotations

import asyncio
import http.client
import re
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from robustcifar.artifacts import ModelArtifacts
from robustcifar.config import shared_field
from robustcifar.errors import UsageError
from robustcifar.provenance import cpu_int8_features, cpu_model, run_started
from robustcifar.serving.client import ManagementClient
from robustcifar.serving.config import ServeConfig
from robustcifar.serving.hosts import require_loopback
from robustcifar.worker_settings import SERVING_BATCH_SIZE, worker_threads

from .http_load import ANSWER_WITHOUT_LABEL, NO_ANSWER, Target, one_request
from .machine import resident_mb
from .measure import LevelResult, measure_endpoint, measure_raw
from .onnx_baseline import BASELINE_BATCH_SIZES
from .reports import tool_main, write_report
from .targets import LoadOptions, prediction_target, protocol_for

TARGET_THROUGHPUT_SHARE = 0.80
TARGET_LATENCY_GAP_MS = 5.0


@dataclass
class ThroughputConfig(LoadOptions):
    metrics_url: str = field(default_factory=lambda: ServeConfig().metrics_url(), metadata={
        "help": "TorchServe's metrics port, read for the mean batch size ('' to skip)"})
    model: str = field(default="ce_clean", metadata={
        "help": "the model measured, or several, comma-separated, one after the other in one run and compared "
                "(e.g. ce_clean,ce_clean_int8)"})
    artifacts: Path | None = shared_field("artifacts")
    levels: tuple[int, ...] = field(default=(1, 4, 16, 64), metadata={"help": "endpoint concurrencies"})
    duration_s: float = field(default=15.0, metadata={"help": "measured seconds per level"})
    warmup_s: float = field(default=3.0, metadata={"help": "unmeasured seconds before each level"})
    ort_threads: int = field(default=0, metadata={"help": "the workers' onnxruntime threads (0: one per core, the server's default)"})
    out: Path | None = field(default=None, metadata={"help": "JSON output (default reports/serving_throughput.json)"})


BATCH_METRIC_LINE = re.compile(r'^(InferenceBatches|InferenceBatchImages)\{(?P<labels>[^}]*)\}\s+(?P<value>\S+)$')


def batch_counters(metrics_url: str, model: str) -> tuple[float, float] | None:
    """(batches, images) the server has run for `model`, from its Prometheus metrics; None if unreadable."""
    if not metrics_url:
        return None
    parts = urlsplit(metrics_url)
    try:
        connection = http.client.HTTPConnection(parts.hostname, parts.port or 80, timeout=10)
        connection.request("GET", "/metrics")
        text = connection.getresponse().read().decode(errors="replace")
        connection.close()
    except (OSError, http.client.HTTPException):
        return None
    totals = {"InferenceBatches": 0.0, "InferenceBatchImages": 0.0}
    for line in text.splitlines():
        match = BATCH_METRIC_LINE.match(line)
        if match and f'ModelName="{model}"' in match["labels"]:
            totals[match[1]] += float(match["value"])
    return totals["InferenceBatches"], totals["InferenceBatchImages"]


def mean_batch(before: tuple[float, float] | None, after: tuple[float, float] | None) -> float | None:
    if before is None or after is None or after[0] <= before[0]:
        return None
    return (after[1] - before[1]) / (after[0] - before[0])


def format_rows(title: str, unit: str, rows: list[LevelResult]) -> str:
    header = (f"  {'level':>5}  {unit:>9}  {'p50 ms':>7}  {'p95 ms':>7}  {'p99 ms':>7}  {'n':>6}  "
              f"{'failed':>6}  {'batch':>5}  {'client CPU':>10}  {'busy cores':>10}")
    lines = [title, header]
    for r in rows:
        batch = f"{r.mean_batch:5.1f}" if r.mean_batch is not None else "    -"
        cpu = f"{r.client_cpu_share:10.2f}" if r.client_cpu_share is not None else "         -"
        busy = f"{r.machine_busy:10.2f}" if r.machine_busy is not None else "         -"
        lines.append(f"  {r.level:>5}  {r.per_second:9.1f}  {r.p50_ms:7.2f}  {r.p95_ms:7.2f}  {r.p99_ms:7.2f}  "
                     f"{r.measured:>6}  {r.failed:>6}  {batch}  {cpu}  {busy}")
    return "\n".join(lines)


def v2_lines(raw: dict[int, LevelResult], endpoint: dict[int, LevelResult], images: int) -> list[str]:
    """Images/s through v2 requests of `images` each, as a share of raw onnxruntime at that batch size."""
    return [f"endpoint at concurrency {level}, {images} images per request / raw at batch {images}: "
            f"{result.per_second * images:.1f} / {raw[images].per_second:.1f} img/s = "
            f"{result.per_second * images / raw[images].per_second:.0%}" for level, result in endpoint.items()]


def target_lines(raw: dict[int, LevelResult], endpoint: dict[int, LevelResult]) -> list[str]:
    lines = []
    full = max(BASELINE_BATCH_SIZES)  # the server's batch size
    if 16 in endpoint:
        share = endpoint[16].per_second / raw[full].per_second
        verdict = "met" if share >= TARGET_THROUGHPUT_SHARE else "NOT met"
        lines.append(f"endpoint at concurrency 16 / raw at batch {full}: {endpoint[16].per_second:.1f} / "
                     f"{raw[full].per_second:.1f} = {share:.0%} (target >= {TARGET_THROUGHPUT_SHARE:.0%}: {verdict})")
    if 1 in raw and 1 in endpoint:
        gap = endpoint[1].p50_ms - raw[1].p50_ms
        verdict = "met" if gap <= TARGET_LATENCY_GAP_MS else "NOT met"
        lines.append(f"p50 at concurrency 1 - raw p50 at batch 1: {endpoint[1].p50_ms:.2f} - {raw[1].p50_ms:.2f} = "
                     f"{gap:.2f} ms (target <= {TARGET_LATENCY_GAP_MS:g} ms: {verdict})")
    return lines


def check_endpoint(target: Target, url: str) -> None:
    sample = asyncio.run(one_request(target))
    if sample.status != 200:
        raise UsageError(f"{url} did not answer a prediction (status {sample.status}); "
                         "start the server with `make serve`, or pass --url / --model")


def measure_one(config: ThroughputConfig, model: str, threads: int) -> dict:
    """Raw onnxruntime and the endpoint at every level, for one model."""
    artifacts = ModelArtifacts.for_model(model, config.artifacts)
    if not artifacts.onnx.is_file():
        raise UsageError(f"{artifacts.onnx} does not exist; run `make export` first")
    protocol = protocol_for(config, model)
    target = prediction_target(config, model, protocol=protocol)
    url, images = f"{config.url.rstrip('/')}{protocol.path(model)}", protocol.images_per_request
    check_endpoint(target, url)
    raw = measure_raw(artifacts, threads, config.duration_s, tuple(sorted({*BASELINE_BATCH_SIZES, images})))
    for batch, result in raw.items():
        print(f"[throughput] {model}: raw onnxruntime as a worker runs it, batch {batch:>2}: "
              f"{result.per_second:7.1f} img/s, p50 {result.p50_ms:.2f} ms per call", flush=True)
    endpoint, failures = {}, {}
    for concurrency in config.levels:
        before = batch_counters(config.metrics_url, model)
        endpoint[concurrency], failures[concurrency] = measure_endpoint(
            target, concurrency, config.warmup_s, config.duration_s)
        endpoint[concurrency].mean_batch = mean_batch(before, batch_counters(config.metrics_url, model))
        print(f"[throughput] {model}: endpoint, concurrency {concurrency:>2}: {endpoint[concurrency].per_second:7.1f} "
              f"req/s ({endpoint[concurrency].per_second * images:.1f} img/s), p50 {endpoint[concurrency].p50_ms:.2f} ms",
              flush=True)
    management = ManagementClient(config.management_url, config.keys().get("management"))
    worker_mb = sum(resident_mb(int(w["pid"])) or 0.0 for w in management.workers(model) if w.get("pid"))
    print()
    print(format_rows(f"raw onnxruntime, {model}, as a worker runs it: {threads} threads, no spinning, "
                      "single-threaded BLAS (level = batch size)", "img/s", list(raw.values())))
    print(format_rows(f"endpoint {url}, {images} image(s) per request (level = concurrent clients; batch = mean "
                      "images per model call)", "req/s", list(endpoint.values())))
    targets = target_lines(raw, endpoint) if images == 1 else v2_lines(raw, endpoint, images)
    print("\n".join(targets))
    if any(failures.values()):
        print(f"failed requests by status ({NO_ANSWER}: no answer, {ANSWER_WITHOUT_LABEL}: 200 without a label): "
              f"{failures}")
    return {"model": model, "images_per_request": images, "worker_rss_mb": worker_mb or None,
            "raw_onnxruntime": [asdict(r) for r in raw.values()], "endpoint": [asdict(r) for r in endpoint.values()],
            "failures": {str(k): v for k, v in failures.items()}, "targets": targets}


def comparison(results: list[dict]) -> list[str]:
    """Side by side: raw images/s at batch 1 and 8, p50 at one client, the top level's throughput, worker memory."""
    top = max(r["level"] for r in results[0]["endpoint"])
    lines = [(f"{'model':<20} {'raw b1 img/s':>13} {'raw b8 img/s':>13} {'p50 @1 client ms':>17} "
             f"{f'req/s @{top}':>11} {'worker MB':>10}")]
    for r in results:
        raw = {row["level"]: row for row in r["raw_onnxruntime"]}
        endpoint = {row["level"]: row for row in r["endpoint"]}
        one = endpoint.get(1, {}).get("p50_ms", float("nan"))
        memory = f"{r['worker_rss_mb']:10.0f}" if r["worker_rss_mb"] else f"{'?':>10}"
        lines.append(f"{r['model']:<20} {raw[1]['per_second']:13.1f} {raw[SERVING_BATCH_SIZE]['per_second']:13.1f} "
                     f"{one:17.2f} {endpoint[top]['per_second']:11.1f} {memory}")
    return lines


def run(config: ThroughputConfig) -> dict:
    started = run_started()
    threads = worker_threads(config.ort_threads)
    require_loopback(config.url)
    models = [m.strip() for m in config.model.split(",") if m.strip()]
    features = ", ".join(cpu_int8_features()) or "neither VNNI nor AMX-INT8"
    print(f"[throughput] CPU: {cpu_model()}; its int8 kernels: {features}", flush=True)
    results = [measure_one(config, model, threads) for model in models]
    lines = comparison(results) if len(results) > 1 else []
    if lines:
        print("\n" + "\n".join(lines))
    report = {"models": models, "onnxruntime_threads": threads, "protocol": config.protocol, "cpu": cpu_model(),
              "cpu_int8_features": cpu_int8_features(), "results": results, "comparison": lines}
    return write_report(report, config, started, "serving_throughput", "throughput")


def main(argv: list[str] | None = None) -> int:
    return tool_main(ThroughputConfig, run, argv, __doc__)


if __name__ == "__main__":
    sys.exit(main())
