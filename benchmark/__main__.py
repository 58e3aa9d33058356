"""`python -m benchmark [--url URL] [--models all] [--profile auto|quick|study|full]`: accuracy of the live
endpoints on clean and corrupted CIFAR-10, and their latency and throughput under Locust next to
raw onnxruntime, written to reports/<timestamp>/. `python -m benchmark.report` turns that folder
into index.html and summary.md."""

from __future__ import annotations

import sys
import time
from dataclasses import asdict
from pathlib import Path

from robustcifar.artifacts import imported_models
from robustcifar.config import config_to_dict
from robustcifar.corruptions import CorruptionError
from robustcifar.datasets import DataSourceError, chosen_indices, load_cifar10
from robustcifar.errors import UsageError
from robustcifar.model_specs import resolve_model_names
from robustcifar.paths import data_dir, reports_dir
from robustcifar.profiles import parse_profiled_config
from robustcifar.provenance import run_record, write_json

from .accuracy.calibration_summary import (
    CalibrationRow,
    ReliabilityRow,
    calibration_rows,
    model_calibration,
    reliability_rows,
)
from .accuracy.client import EndpointUnreachable, PredictionClient
from .accuracy.measure import AccuracyRow, accuracy_rows, measure_accuracy
from .accuracy.summary import format_table, summarise
from .accuracy.testsets import check_pairing, iter_cells
from .api_key import inference_key
from .config import PRESETS, BenchmarkConfig
from .load.latency import LatencyRow, measure_latency
from .load.load_test import LoadTestError, require_loopback
from .load.onnx_baseline import BaselineError
from .provenance import model_provenance
from .rows_csv import write_rows_csv


def default_cifar10c(config: BenchmarkConfig) -> Path | None:
    if config.cifar10c:
        return config.cifar10c
    generated = (config.data_dir or data_dir()) / "cifar10c"
    return generated if (generated / "labels.npy").is_file() else None


def run_accuracy(config: BenchmarkConfig, models: list[str], data, out: Path) -> dict:
    cifar10c = default_cifar10c(config)
    n_corrupted_cells = len(config.corruptions) * len(config.severities)
    n_per_cell = len(chosen_indices(data.test_labels, config.per_class, config.seed))
    n_clean = n_per_cell if config.clean_per_class < 0 else len(
        chosen_indices(data.test_labels, config.clean_per_class, config.seed))
    print(f"[benchmark] accuracy: {len(models)} model(s) x ({n_clean} clean images + {n_corrupted_cells} corrupted "
          f"cells x {n_per_cell} images); corrupted images from {cifar10c or 'on-the-fly generation'}", flush=True)
    pairing = check_pairing(data, cifar10c)
    print(f"[benchmark] corrupted cells: {pairing.note}", flush=True)
    cells = iter_cells(data, list(config.corruptions), list(config.severities), config.per_class, config.seed, cifar10c,
                       config.clean_per_class, pairing)
    with PredictionClient(config.url, config.concurrency, config.timeout, config.retries,
                          token=inference_key(config.key_file)) as client:
        outcomes = measure_accuracy(client, models, cells, n_clean + n_corrupted_cells * n_per_cell, config.progress,
                                    pairing.paired)
    write_rows_csv(accuracy_rows(outcomes), AccuracyRow, out / "accuracy.csv")
    outcomes.save(out / "outcomes.npz")
    calibrations = {m: model_calibration(outcomes, m, config.bootstrap, config.seed) for m in models}
    write_rows_csv([row for m, c in calibrations.items() if c for row in calibration_rows(outcomes, m, c)],
                   CalibrationRow, out / "calibration.csv")
    write_rows_csv([row for m in models for row in reliability_rows(outcomes, m)], ReliabilityRow,
                   out / "reliability.csv")
    if config.baseline not in models:
        print(f"[benchmark] the baseline {config.baseline} is not among the measured models: no CE, mCE or "
              "paired differences (--baseline names another)", flush=True)
    summary = summarise(outcomes, config.baseline, config.bootstrap, config.seed, calibrations)
    print(format_table(summary, n_per_cell, n_clean, config.baseline), flush=True)
    return {"models": summary, "n_per_cell": n_per_cell, "n_clean": n_clean, "baseline_model": config.baseline,
            "answered_by": outcomes.answered_by, "paired": pairing.paired, "pairing": pairing.note,
            "cifar10c": str(cifar10c) if cifar10c else "generated on the fly (seeded)"}


def run_latency(config: BenchmarkConfig, data, out: Path) -> dict:
    models = resolve_model_names(config.latency_models, imported_models(config.artifacts))
    print(f"[benchmark] latency: {', '.join(models)} at {', '.join(map(str, config.users))} Locust users, "
          f"{config.stage_seconds:.0f} s each, next to onnxruntime in-process", flush=True)
    images = data.test_images[chosen_indices(data.test_labels, 10, config.seed)]
    rows, baselines, stages = measure_latency(config.url, models, config.users, config.stage_seconds, images,
                                              out / "latency", config.artifacts, config.baseline_seconds,
                                              show_progress=config.progress, token=inference_key(config.key_file))
    write_rows_csv(rows, LatencyRow, out / "latency" / "latency.csv")
    for row in rows:
        print(f"  {row.model:<18} users {row.users:>3}: {row.requests_per_s:7.1f} req/s  p50 {row.p50_ms:6.1f} ms  "
              f"p95 {row.p95_ms:6.1f}  p99 {row.p99_ms:6.1f}  failures {row.failures}  "
              f"(p50 x{row.p50_ratio:.1f} onnxruntime; {100 * row.throughput_ratio:.0f}% of its images/s)", flush=True)
    return {"models": models, "users": list(config.users), "stage_seconds": config.stage_seconds,
            "onnxruntime": {m: [asdict(r) for r in b] for m, b in baselines.items()},
            "failure_kinds": {f"{s.model} u{s.users}": s.failure_kinds for s in stages if s.failure_kinds}}


def check_served_models(model_files: dict[str, dict], answered_by: dict[str, dict[str, int]]) -> None:
    """Record, per model, the hashes of the model files that answered (as the server said), and say
    when they are not the file that meta.json describes: then the numbers are another model's."""
    for model, hashes in answered_by.items():
        files = model_files.setdefault(model, {})
        files["served_sha256"] = sorted(hashes)
        files["served_matches_meta"] = bool(hashes) and set(hashes) == {files.get("onnx_sha256")}
        if set(hashes) == {"unknown"}:
            print(f"[benchmark] warning: the server did not say which model file answered for {model}: its archive "
                  "predates answers that carry model_sha256 (`make archives` rebuilds it)", flush=True)
        elif hashes and not files["served_matches_meta"]:
            served = ", ".join(h[:12] for h in sorted(hashes))
            print(f"[benchmark] warning: {model} was answered by model file(s) {served} but its meta.json describes "
                  f"{str(files.get('onnx_sha256'))[:12]}: the server is not serving what artifacts/ holds "
                  "(`make serve` restarts it with the new files)", flush=True)


def run(config: BenchmarkConfig) -> Path:
    started = time.time()
    models = resolve_model_names(config.models, imported_models(config.artifacts), config.seeds)
    if config.latency:
        require_loopback(config.url, config.load_test_hosts)
    PredictionClient(config.url).check_reachable()
    data = load_cifar10(config.data, config.data_dir)
    out = config.out or reports_dir() / time.strftime("%Y%m%d-%H%M%S")
    out.mkdir(parents=True, exist_ok=True)
    record: dict = {"profile": config.profile, "url": config.url, "data_source": data.source,
                    "data_source_kind": data.source_kind, "seconds": {}}
    record["model_files"] = {m: model_provenance(m, config.artifacts) for m in models}
    if config.accuracy:
        t0 = time.time()
        record["accuracy"] = run_accuracy(config, models, data, out)
        record["seconds"]["accuracy"] = round(time.time() - t0, 1)
        check_served_models(record["model_files"], record["accuracy"]["answered_by"])
    if config.latency:
        t0 = time.time()
        record["latency"] = run_latency(config, data, out)
        record["seconds"]["latency"] = round(time.time() - t0, 1)
    record["config"] = config_to_dict(config)
    record["run"] = run_record(started=started)
    write_json(out / "summary.json", record)
    return out


def main(argv: list[str] | None = None) -> int:
    try:
        config, profile_reason = parse_profiled_config(BenchmarkConfig, argv, __doc__, PRESETS)
        print(f"[benchmark] {profile_reason}", flush=True)
        out = run(config)
    except (EndpointUnreachable, DataSourceError, CorruptionError, LoadTestError, BaselineError, FileNotFoundError,
            UsageError) as exc:  # what a user can fix; anything else is a bug and keeps its traceback
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"[benchmark] results in {out}; `make report` (python -m benchmark.report) renders them")
    return 0


if __name__ == "__main__":
    sys.exit(main())
