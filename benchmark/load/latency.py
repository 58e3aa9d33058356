"""Latency and throughput of the served models, next to raw onnxruntime in-process.

For each model: the onnxruntime baseline (a fresh process, batch 1 and the serving batch size),
then one Locust stage per concurrency level. Every served figure is also given as a ratio to the
baseline: latency percentiles to onnxruntime's at batch 1 (how many times slower one request is
than one bare model call), requests/s to onnxruntime's best images/s (the share of the ceiling).
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tqdm import tqdm

from robustcifar.artifacts import ModelArtifacts, ModelMeta
from robustcifar.serving.protocols import PREDICTIONS

from .load_test import StageResult, run_stage, write_image_bodies
from .onnx_baseline import BASELINE_BATCH_SIZES, BaselineResult, measure_model


@dataclass
class LatencyRow:
    """One line of latency.csv: one model at one concurrency level. Times in ms."""

    model: str
    users: int  # closed-loop Locust users: the offered concurrency
    seconds: float
    requests: int
    failures: int
    requests_per_s: float
    in_flight: float  # requests/s x mean latency: the concurrency the server saw
    mean_ms: float
    p50_ms: float
    p95_ms: float
    p99_ms: float
    max_ms: float
    ort_p50_ms: float  # raw onnxruntime, one image per call
    ort_p95_ms: float
    ort_p99_ms: float
    ort_images_per_s: float  # raw onnxruntime, best over the measured batch sizes
    p50_ratio: float  # served / onnxruntime
    p95_ratio: float
    p99_ratio: float
    throughput_ratio: float  # served images/s / onnxruntime images/s
    protocol: str = "predictions"  # or "v2"
    images_per_request: int = 1


def ratio(served: float, raw: float) -> float:
    return served / raw if raw and np.isfinite(raw) and raw > 0 else float("nan")


def latency_row(stage: StageResult, baseline: list[BaselineResult], protocol: str = "predictions",
                images_per_request: int = 1) -> LatencyRow:
    """The served figures next to raw onnxruntime: latency against one image per call (a request of
    N images against a call of N), throughput in images/s against the best batch measured."""
    single = min((r for r in baseline if r.batch_size == images_per_request), default=None,
                 key=lambda r: r.batch_size) or min(baseline, key=lambda r: r.batch_size)
    best = max(r.images_per_s for r in baseline)
    return LatencyRow(
        stage.model, stage.users, stage.seconds, stage.requests, stage.failures, stage.requests_per_s,
        stage.in_flight, stage.mean_ms, stage.p50_ms, stage.p95_ms, stage.p99_ms, stage.max_ms,
        single.p50_ms, single.p95_ms, single.p99_ms, best,
        ratio(stage.p50_ms, single.p50_ms), ratio(stage.p95_ms, single.p95_ms), ratio(stage.p99_ms, single.p99_ms),
        ratio(stage.requests_per_s * images_per_request, best), protocol, images_per_request,
    )


def baseline_for(model: str, artifacts_root: Path | None, batch_sizes: tuple[int, ...],
                 seconds: float) -> list[BaselineResult]:
    files = ModelArtifacts.for_model(model, artifacts_root)
    if not files.onnx.is_file():
        raise FileNotFoundError(f"no {files.onnx}: the onnxruntime baseline needs the exported model (`make export`)")
    meta = ModelMeta.load(files.meta) if files.meta.is_file() else None
    embedder = meta is not None and meta.kind == "embedder"
    return measure_model(files.onnx, files.gallery if embedder else None, (meta.knn_k or 10) if embedder else 10,
                         batch_sizes, seconds)


def measure_latency(url: str, models: list[str], users: tuple[int, ...], stage_seconds: float, images: np.ndarray,
                    out_dir: Path, artifacts_root: Path | None = None, baseline_seconds: float = 3.0,
                    baseline_batch_sizes: tuple[int, ...] = BASELINE_BATCH_SIZES, show_progress: bool = True,
                    token: str | None = None, protocols=None,
                    ) -> tuple[list[LatencyRow], dict[str, list[BaselineResult]], list[StageResult]]:
    """Locust at every level of `users`, for every model in every protocol of `protocols(model)` (a list;
    default /predictions alone), next to raw onnxruntime at the batch sizes those requests need."""
    protocols = protocols or (lambda model: [PREDICTIONS])
    plans = {model: protocols(model) for model in models}
    rows, baselines, stages = [], {}, []
    with tqdm(total=sum(1 + len(users) * len(p) for p in plans.values()), desc="latency stages", unit="stage",
              disable=not show_progress) as progress:
        for model, model_protocols in plans.items():
            progress.set_postfix(model=model, stage="onnxruntime")
            sizes = tuple(sorted({*baseline_batch_sizes, *(p.images_per_request for p in model_protocols)}))
            baselines[model] = baseline_for(model, artifacts_root, sizes, baseline_seconds)
            progress.update(1)
            for protocol in model_protocols:
                bodies = write_image_bodies(images, out_dir / f"request_bodies_{model}_{protocol.name}.npz", protocol)
                for level in users:
                    progress.set_postfix(model=model, protocol=protocol.name, users=level)
                    stage = run_stage(url, model, level, stage_seconds, bodies, out_dir, token,
                                      label=protocol.name if protocol.name != "predictions" else "")
                    stages.append(stage)
                    rows.append(latency_row(stage, baselines[model], protocol.name, protocol.images_per_request))
                    progress.update(1)
    return rows, baselines, stages


def read_latency_rows(path: Path) -> list[LatencyRow]:
    types = {name: f.type for name, f in LatencyRow.__dataclass_fields__.items()}
    with open(path, newline="") as f:
        # rows written before the protocol columns existed take their defaults
        return [LatencyRow(**{k: (str(v) if types[k] in (str, "str") else
                                  int(v) if types[k] in (int, "int") else float(v))
                              for k, v in row.items() if k in types})
                for row in csv.DictReader(f)]
