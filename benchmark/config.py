"""What `python -m benchmark` measures, and the quick and full presets of it."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from robustcifar.config import shared_field
from robustcifar.corruptions import SEVERITIES
from robustcifar.corruptions.registry import SELECTIONS, lookup, select
from robustcifar.input_spec import InputSpecOptions
from robustcifar.serving.client import ServerOptions
from robustcifar.serving.protocols import PROTOCOLS

from .accuracy.summary import BASELINE_MODEL


@dataclass
class BenchmarkConfig(ServerOptions, InputSpecOptions):
    """--url and --key-file name the server (ServerOptions). The inherited --layout, --dtype, --scale,
    --mean, --std, --channels, --output declare the input of a v2 model that is not ours (as `make
    import` takes them); they apply with --v2-output only."""

    protocol: str = field(default="predictions", metadata={
        "help": f"{' or '.join(PROTOCOLS)}: one image per /predictions request, or batches of --batch images per "
                "Open Inference Protocol request"})
    batch: int = field(default=64, metadata={"help": "images per v2 request (--protocol v2)"})
    v2_input: str = field(default="pixels", metadata={
        "help": "a v2 server that is not ours: the input tensor's name (with --v2-output)"})
    v2_output: str = field(default="", metadata={
        "help": "a v2 server that is not ours: the output holding each image's logits or probabilities (--output "
                "says which); empty: ours, whose metadata says what it answers"})
    resume: Path | None = field(default=None, metadata={
        "help": "a run folder (reports/<run>) to continue: the cells it holds are not sent again"})
    load_test_hosts: tuple[str, ...] = field(default=(), metadata={
        "help": "host names besides loopback that the load test may target (only servers of your own, "
                "e.g. the compose service 'serve')"})
    models: str = shared_field("models")
    seeds: str = shared_field("seeds")
    baseline: str = field(default=BASELINE_MODEL, metadata={
        "help": "the model that CE, relative mCE and the paired differences compare against"})
    profile: str = "auto"
    # accuracy under corruption
    accuracy: bool = field(default=True, metadata={"help": "measure clean and corrupted accuracy"})
    per_class: int = field(default=0, metadata={"help": "test images per class per cell (0: all 1000)"})
    clean_per_class: int = field(default=-1, metadata={
        "help": "test images per class in the clean cell (-1: as --per-class; 0: all 1000); the corrupted "
                "cells' images must be among them"})
    family: str = field(default="all", metadata={
        "help": f"the corruption families measured: {', '.join(SELECTIONS)} (cifar10c: its 15 benchmark + 4 extra; "
                "cbar: CIFAR-10-C-bar's 10, unseen by design; all: the 29)"})
    corruptions: tuple[str, ...] = field(default=(), metadata={
        "help": "the corruptions measured, by name (default: those of --family)"})
    severities: tuple[int, ...] = field(default=SEVERITIES, metadata={"help": "the severities measured"})
    cifar10c: Path | None = field(default=None, metadata={
        "help": "CIFAR-10-C folder (ours or the official release); default: data/cifar10c if present, "
                "else corruptions are generated on the fly"})
    data: str = shared_field("data")
    data_dir: Path | None = shared_field("data_dir")
    concurrency: int = field(default=0, metadata={
        "help": "accuracy requests in flight (0: 16 for /predictions, which keeps a second batch of 8 waiting "
                "while the server runs one; 2 for v2 batches)"})
    timeout: float = field(default=30.0, metadata={"help": "seconds before a request without an answer counts as failed"})
    retries: int = field(default=3, metadata={"help": "retries of a request that could not connect (never of an answer)"})
    bootstrap: int = field(default=1000, metadata={"help": "bootstrap resamples for the mCE intervals"})
    seed: int = field(default=0, metadata={"help": "seed of the test-image selection and the generated corruptions"})
    # latency and throughput
    latency: bool = field(default=True, metadata={"help": "run the Locust load test and the onnxruntime baseline"})
    latency_models: str = field(default="all", metadata={"help": "'all' or comma-separated models to load-test"})
    latency_protocols: tuple[str, ...] = field(default=("predictions", "v2"), metadata={
        "help": "protocols the load test measures (v2 with --batch images per request)"})
    users: tuple[int, ...] = field(default=(1, 2, 4, 8, 16, 32), metadata={"help": "Locust concurrency levels"})
    stage_seconds: float = field(default=30.0, metadata={"help": "measured seconds per concurrency level"})
    baseline_seconds: float = field(default=10.0, metadata={"help": "seconds per batch size of the onnxruntime baseline"})
    artifacts: Path | None = shared_field("artifacts")
    out: Path | None = field(default=None, metadata={"help": "output folder (default reports/<timestamp>)"})
    progress: bool = shared_field("progress")

    def resolved_corruptions(self) -> list[str]:
        """--corruptions, else --family's; a CorruptionError (a ValueError) names the allowed ones."""
        names = list(self.corruptions) if self.corruptions else list(select(self.family))
        for name in names:
            lookup(name)
        return names

    def resolved_concurrency(self) -> int:
        if self.concurrency > 0:
            return self.concurrency
        return 2 if self.protocol == "v2" else 16


# quick: sized so that `make all` stays within 30 minutes on a 2-core CPU machine (accuracy ~5-6
# min, latency ~2 min). The latency part load-tests one classifier and one embedder: the
# *_corrupted twins run the same network and handler, so their latency is the same.
PRESETS = {
    "quick": {"per_class": 10, "latency_models": "ce_clean,angular", "users": (1, 4, 16), "stage_seconds": 15.0,
              "baseline_seconds": 3.0, "latency_protocols": ("predictions",)},
    # study: the clean cell on all 10,000 test images, every corruption x severity on the same
    # class-balanced 1,000 of them (100 per class), so the drop under corruption is measured on the
    # same images. (300 per cell left the study's 2-3 point differences unresolved.)
    "study": {"per_class": 100, "clean_per_class": 0, "latency_models": "ce_clean,angular",
              "users": (1, 4, 16), "stage_seconds": 15.0, "baseline_seconds": 3.0},
    "full": {"per_class": 0, "latency_models": "all", "users": (1, 2, 4, 8, 16, 32), "stage_seconds": 30.0,
             "baseline_seconds": 10.0},
}
