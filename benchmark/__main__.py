"""`python -m benchmark [--url URL] [--models all] [--profile auto|quick|study|full]`: accuracy of the live
endpoints on clean and corrupted CIFAR-10, and their latency and throughput under Locust next to
raw onnxruntime, written to reports/<timestamp>/. `python -m benchmark.report` turns that folder
into index.html and summary.md."""

from __future__ import annotations

import contextlib
import sys
import time
from dataclasses import asdict
from pathlib import Path

import requests

from robustcifar.artifacts import imported_models
from robustcifar.config import config_to_dict
from robustcifar.corruptions import CorruptionError
from robustcifar.datasets import DataSourceError, chosen_indices, load_cifar10
from robustcifar.errors import UsageError
from robustcifar.input_spec import parse_spec
from robustcifar.model_specs import resolve_model_names
from robustcifar.paths import data_dir, reports_dir
from robustcifar.profiles import parse_profiled_config
from robustcifar.provenance import run_record, run_started, write_json
from robustcifar.serving.auth import auth_headers, inference_key
from robustcifar.serving.client import check_reachable
from robustcifar.serving.hosts import require_loopback
from robustcifar.serving.protocols import (
    PREDICTIONS,
    PROTOCOLS,
    V2Contract,
    V2Protocol,
    fetch_v2_contract,
    supports_binary,
)
from robustcifar.serving.v2 import V2Error
from robustcifar.stopping import exit_code, signal_name, sigterm_as_stop

from .accuracy.calibration_summary import (
    CalibrationRow,
    ReliabilityRow,
    calibration_rows,
    model_calibration,
    reliability_rows,
)
from .accuracy.cell_store import CellStore
from .accuracy.client import PredictionClient
from .accuracy.measure import AccuracyRow, accuracy_rows, measure_accuracy
from .accuracy.summary import format_table, summarise
from .accuracy.testsets import TestCells, check_pairing
from .config import PRESETS, BenchmarkConfig
from .load.latency import LatencyRow, measure_latency
from .load.load_test import LoadTestError
from .load.onnx_baseline import BaselineError
from .provenance import model_provenance
from .rows_csv import write_rows_csv


def default_cifar10c(config: BenchmarkConfig) -> Path | None:
    if config.cifar10c:
        return config.cifar10c
    generated = (config.data_dir or data_dir()) / "cifar10c"
    return generated if (generated / "labels.npy").is_file() else None


def make_protocol(config: BenchmarkConfig, models: list[str], headers: dict[str, str]):
    """The protocol the accuracy pass speaks: /predictions, or v2 with each model's contract (ours from
    its metadata; one declared with --v2-output for a server that is not ours, the same for every model)."""
    if config.protocol not in PROTOCOLS:
        raise UsageError(f"--protocol must be one of {', '.join(PROTOCOLS)}, got {config.protocol!r}")
    if config.protocol == "predictions":
        return {m: PREDICTIONS for m in models}
    if config.batch < 1:
        raise UsageError(f"--batch must be at least 1, got {config.batch}")
    binary = supports_binary(config.url, headers)
    if config.v2_output:
        spec = parse_spec(config)
        contract = V2Contract(config.v2_input, spec, config.v2_output, spec.output, class_id=None)
        return {m: V2Protocol(contract, config.batch, binary) for m in models}
    try:
        return {m: V2Protocol(fetch_v2_contract(config.url, m, headers), config.batch, binary) for m in models}
    except (V2Error, requests.RequestException) as exc:
        raise UsageError(f"{exc}; for a v2 server that is not ours, declare the model's contract (--v2-input, "
                         "--v2-output and the input spec)") from None


def run_accuracy(config: BenchmarkConfig, models: list[str], data, out: Path, model_files: dict) -> dict:
    cifar10c = default_cifar10c(config)
    pairing = check_pairing(data, cifar10c)
    cells = TestCells(data, config.resolved_corruptions(), list(config.severities), config.per_class, config.seed,
                      cifar10c, config.clean_per_class, pairing)
    n_clean, n_per_cell = cells.plan[0].size, (cells.plan[1].size if len(cells.plan) > 1 else 0)
    print(f"[benchmark] accuracy: {len(models)} model(s) x ({n_clean} clean images + {len(cells.plan) - 1} corrupted "
          f"cells x {n_per_cell} images) over {config.protocol}"
          f"{f' in batches of {config.batch}' if config.protocol == 'v2' else ''}; corrupted images from "
          f"{cifar10c or 'on-the-fly generation'}", flush=True)
    print(f"[benchmark] corrupted cells: {pairing.note}", flush=True)
    identity = {"models": {m: model_files[m].get("onnx_sha256") for m in models}, "per_class": config.per_class,
                "clean_per_class": config.clean_per_class, "seed": config.seed, "test_set": data.test_set_digest(),
                "cells": [f"{c.corruption}-s{c.severity}" for c in cells.plan], "pairing": pairing.note}
    store = CellStore(out, identity)
    if store.count():
        print(f"[benchmark] resuming {out}: {store.count()} of {len(cells.plan)} cells are recorded and not sent "
              "again", flush=True)
    headers = inference_headers(config)
    protocols = make_protocol(config, models, headers)
    outcomes = None
    try:
        with contextlib.ExitStack() as stack:
            clients = {m: stack.enter_context(PredictionClient(
                config.url, config.resolved_concurrency(), config.timeout, config.retries,
                token=inference_key(config.key_file), protocol=protocols[m])) for m in models}
            outcomes = measure_accuracy(MultiClient(clients), models, cells, config.progress, store)
    finally:
        if outcomes is None:
            print(f"\n[benchmark] stopped: the {store.count()} cells measured so far are in {store.folder}; "
                  f"`--resume {out}` (make benchmark RESUME={out}) sends only the rest", file=sys.stderr, flush=True)
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
            "protocol": config.protocol, "batch": config.batch if config.protocol == "v2" else 1,
            "cifar10c": str(cifar10c) if cifar10c else "generated on the fly (seeded)"}


def inference_headers(config: BenchmarkConfig) -> dict[str, str]:
    return auth_headers(inference_key(config.key_file))


class MultiClient:
    """One client per model (each model may speak its own v2 contract), used as one."""

    def __init__(self, clients: dict[str, PredictionClient]) -> None:
        self.clients = clients

    def predict(self, model: str, images):
        return self.clients[model].predict(model, images)


def run_latency(config: BenchmarkConfig, data, out: Path) -> dict:
    models = resolve_model_names(config.latency_models, imported_models(config.artifacts))
    print(f"[benchmark] latency: {', '.join(models)} at {', '.join(map(str, config.users))} Locust users, "
          f"{config.stage_seconds:.0f} s each, next to onnxruntime in-process", flush=True)
    unknown = sorted(set(config.latency_protocols) - set(PROTOCOLS))
    if unknown:
        raise UsageError(f"--latency-protocols takes {', '.join(PROTOCOLS)}; got {', '.join(unknown)}")
    headers = inference_headers(config)

    def protocols(model: str) -> list:
        return [PREDICTIONS if name == "predictions" else V2Protocol(fetch_v2_contract(config.url, model, headers),
                                                                     config.batch)
                for name in config.latency_protocols]

    # enough test images for a few distinct requests of every protocol
    per_class = max(10, -(-3 * config.batch // 10)) if "v2" in config.latency_protocols else 10
    images = data.test_images[chosen_indices(data.test_labels, per_class, config.seed)]
    rows, baselines, stages = measure_latency(config.url, models, config.users, config.stage_seconds, images,
                                              out / "latency", config.artifacts, config.baseline_seconds,
                                              show_progress=config.progress, token=inference_key(config.key_file),
                                              protocols=protocols)
    write_rows_csv(rows, LatencyRow, out / "latency" / "latency.csv")
    for row in rows:
        print(f"  {row.model:<18} {row.protocol:<11} x{row.images_per_request:<3} users {row.users:>3}: "
              f"{row.requests_per_s:7.1f} req/s  p50 {row.p50_ms:6.1f} ms  "
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


def benchmark_models(config: BenchmarkConfig) -> list[str]:
    """Ours and imported ones by name; any names for a v2 server that is not ours (--v2-output)."""
    if config.v2_output:
        names = [n.strip() for n in config.models.split(",") if n.strip() and n.strip() != "all"]
        if not names:
            raise UsageError("name the served models with --models for a v2 server that is not ours")
        return names
    return resolve_model_names(config.models, imported_models(config.artifacts), config.seeds)


def run(config: BenchmarkConfig) -> Path:
    started = run_started()
    models = benchmark_models(config)
    config.resolved_corruptions()  # a bad --family or --corruptions stops here, before the server is asked
    if config.latency:
        require_loopback(config.url, config.load_test_hosts)
        if config.v2_output:
            raise UsageError("the latency part load-tests our server; against another one use --no-latency")
    check_reachable(config.url, "/ping" if not config.v2_output else "/v2/health/live")
    data = load_cifar10(config.data, config.data_dir, progress=config.progress)
    if config.resume is not None and not (Path(config.resume) / "cells").is_dir():
        raise UsageError(f"{config.resume} holds no recorded cells to resume (no cells/ folder)")
    out = Path(config.resume or config.out or reports_dir() / time.strftime("%Y%m%d-%H%M%S"))
    out.mkdir(parents=True, exist_ok=True)
    record: dict = {"profile": config.profile, "url": config.url, "data_source": data.source,
                    "data_source_kind": data.source_kind, "seconds": {}}
    record["model_files"] = {m: model_provenance(m, config.artifacts) for m in models}
    if config.accuracy:
        t0 = time.time()
        record["accuracy"] = run_accuracy(config, models, data, out, record["model_files"])
        record["seconds"]["accuracy"] = round(time.time() - t0, 1)
        if not config.v2_output:  # a server that is not ours does not name the files that answered
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
        with sigterm_as_stop():
            out = run(config)
    except KeyboardInterrupt as exc:
        print(f"[benchmark] stopped ({signal_name(exc)})", file=sys.stderr)
        return exit_code(exc)
    except (DataSourceError, CorruptionError, LoadTestError, BaselineError, FileNotFoundError,
            UsageError) as exc:  # what a user can fix; anything else is a bug and keeps its traceback
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"[benchmark] results in {out}; `make report` (python -m benchmark.report) renders them")
    return 0


if __name__ == "__main__":
    sys.exit(main())
