"""What `python -m benchmark` measures, and the quick and full presets of it."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from robustcifar.corruptions import ALL_CORRUPTIONS, SEVERITIES

from .accuracy.summary import BASELINE_MODEL


@dataclass
class BenchmarkConfig:
    url: str = "http://127.0.0.1:8080"
    key_file: Path | None = field(default=None, metadata={
        "help": "TorchServe's key_file.json, for a server with token authorization: its inference key is sent"})
    load_test_hosts: tuple[str, ...] = field(default=(), metadata={
        "help": "host names besides loopback that the load test may target (only servers of your own, "
                "e.g. the compose service 'serve')"})
    models: str = field(default="all", metadata={"help": "'all' or comma-separated model names"})
    seeds: str = field(default="", metadata={"help": "comma-separated training seeds: each of our models stands for its run with each seed (<model>-seed<N>)"})
    baseline: str = field(default=BASELINE_MODEL, metadata={
        "help": "the model that CE, relative mCE and the paired differences compare against"})
    profile: str = "auto"
    # accuracy under corruption
    accuracy: bool = field(default=True, metadata={"help": "measure clean and corrupted accuracy"})
    per_class: int = field(default=0, metadata={"help": "test images per class per cell (0: all 1000)"})
    clean_per_class: int = field(default=-1, metadata={
        "help": "test images per class in the clean cell (-1: as --per-class; 0: all 1000); the corrupted "
                "cells' images must be among them"})
    corruptions: tuple[str, ...] = ALL_CORRUPTIONS
    severities: tuple[int, ...] = SEVERITIES
    cifar10c: Path | None = field(default=None, metadata={
        "help": "CIFAR-10-C folder (ours or the official release); default: data/cifar10c if present, "
                "else corruptions are generated on the fly"})
    data: str = "auto"
    data_dir: Path | None = None
    concurrency: int = field(default=16, metadata={
        "help": "accuracy requests in flight: 16 keeps a second batch of 8 waiting while the server runs one"})
    timeout: float = 30.0
    retries: int = field(default=3, metadata={"help": "retries of a request that could not connect (never of an answer)"})
    bootstrap: int = field(default=1000, metadata={"help": "bootstrap resamples for the mCE intervals"})
    seed: int = 0
    # latency and throughput
    latency: bool = field(default=True, metadata={"help": "run the Locust load test and the onnxruntime baseline"})
    latency_models: str = field(default="all", metadata={"help": "'all' or comma-separated models to load-test"})
    users: tuple[int, ...] = field(default=(1, 2, 4, 8, 16, 32), metadata={"help": "Locust concurrency levels"})
    stage_seconds: float = field(default=30.0, metadata={"help": "measured seconds per concurrency level"})
    baseline_seconds: float = field(default=10.0, metadata={"help": "seconds per batch size of the onnxruntime baseline"})
    artifacts: Path | None = field(default=None, metadata={"help": "artifacts folder (model hashes, ONNX baseline)"})
    out: Path | None = field(default=None, metadata={"help": "output folder (default reports/<timestamp>)"})
    progress: bool = True


# quick: sized so that `make all` stays within 30 minutes on a 2-core CPU machine (accuracy ~5-6
# min, latency ~2 min). The latency part load-tests one classifier and one embedder: the
# *_corrupted twins run the same network and handler, so their latency is the same.
PRESETS = {
    "quick": {"per_class": 10, "latency_models": "ce_clean,angular", "users": (1, 4, 16), "stage_seconds": 15.0,
              "baseline_seconds": 3.0},
    # study: the clean cell on all 10,000 test images, every corruption x severity on the same
    # class-balanced 300 of them, so that paired differences to ce_clean of about 3 points over the
    # 15 benchmark corruptions are resolved.
    "study": {"per_class": 30, "clean_per_class": 0, "latency_models": "ce_clean,angular",
              "users": (1, 4, 16), "stage_seconds": 15.0, "baseline_seconds": 3.0},
    "full": {"per_class": 0, "latency_models": "all", "users": (1, 2, 4, 8, 16, 32), "stage_seconds": 30.0,
             "baseline_seconds": 10.0},
}
