"""`python -m benchmark [--url URL] [--models all] [--profile auto|quick|full]`: accuracy of the live
endpoints on clean and corrupted CIFAR-10, written to reports/<timestamp>/."""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from robustcifar.config import config_to_dict, parse_config
from robustcifar.corruptions import ALL_CORRUPTIONS, SEVERITIES, CorruptionError
from robustcifar.datasets import DataSourceError, load_cifar10
from robustcifar.model_specs import resolve_model_names
from robustcifar.paths import data_dir, reports_dir
from robustcifar.profiles import resolve_profile
from robustcifar.provenance import run_record, write_json

from .accuracy import format_table, measure_accuracy, summarise, write_rows
from .client import EndpointUnreachable, PredictionClient
from .testsets import iter_cells


@dataclass
class BenchmarkConfig:
    url: str = "http://127.0.0.1:8080"
    models: str = field(default="all", metadata={"help": "'all' or comma-separated model names"})
    profile: str = "auto"
    per_class: int = field(default=0, metadata={"help": "test images per class per cell (0: all 1000)"})
    corruptions: tuple[str, ...] = ALL_CORRUPTIONS
    severities: tuple[int, ...] = SEVERITIES
    cifar10c: Path | None = field(default=None, metadata={
        "help": "CIFAR-10-C folder (ours or the official release); default: data/cifar10c if present, "
                "else corruptions are generated on the fly"})
    data: str = "auto"
    data_dir: Path | None = None
    concurrency: int = 8
    timeout: float = 30.0
    retries: int = 3
    seed: int = 0
    out: Path | None = field(default=None, metadata={"help": "output folder (default reports/<timestamp>)"})
    progress: bool = True


PRESETS = {"quick": {"per_class": 10}, "full": {"per_class": 0}}


def default_cifar10c(config: BenchmarkConfig) -> Path | None:
    if config.cifar10c:
        return config.cifar10c
    generated = (config.data_dir or data_dir()) / "cifar10c"
    return generated if (generated / "labels.npy").is_file() else None


def run(config: BenchmarkConfig) -> Path:
    started = time.time()
    models = resolve_model_names(config.models)
    client = PredictionClient(config.url, config.concurrency, config.timeout, config.retries)
    client.check_reachable()
    data = load_cifar10(config.data, config.data_dir)
    cifar10c = default_cifar10c(config)
    n_per_cell = config.per_class * 10 if config.per_class > 0 else len(data.test_labels)
    print(f"[benchmark] {len(models)} model(s) x {1 + len(config.corruptions) * len(config.severities)} cells x "
          f"{n_per_cell} images; corrupted images from {cifar10c or 'on-the-fly generation'}", flush=True)
    cells = iter_cells(data, list(config.corruptions), list(config.severities), config.per_class, config.seed, cifar10c)
    rows = measure_accuracy(client, models, cells, 1 + len(config.corruptions) * len(config.severities), n_per_cell,
                            config.progress)
    out = config.out or reports_dir() / time.strftime("%Y%m%d-%H%M%S")
    write_rows(rows, out / "accuracy.csv")
    summary = summarise(rows)
    write_json(out / "summary.json", {
        "models": summary, "n_per_cell": n_per_cell, "data_source": data.source,
        "data_source_kind": data.source_kind, "cifar10c": str(cifar10c) if cifar10c else "generated",
        "config": config_to_dict(config), "run": run_record(started=started),
    })
    print(format_table(summary, n_per_cell))
    return out


def main(argv: list[str] | None = None) -> int:
    announced = []

    def resolve(requested: str) -> str:
        profile, why = resolve_profile(requested)
        announced.append(why)
        return profile

    config = parse_config(BenchmarkConfig, argv, __doc__, PRESETS, resolve)
    print(f"[benchmark] {announced[0]}", flush=True)
    try:
        out = run(config)
    except (EndpointUnreachable, DataSourceError, CorruptionError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"[benchmark] results in {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
