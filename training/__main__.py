"""`python -m training [--models all] [--profile auto|quick|study|full] [--epochs N ...]`; --help lists all options."""

from __future__ import annotations

import sys

import torch

from robustcifar.datasets import DataSourceError, load_cifar10
from robustcifar.model_specs import resolve_model_names
from robustcifar.profiles import parse_profiled_config

from .config import PRESETS, TrainConfig
from .distributed import start_process_group, stop_process_group
from .run import train_one


def _print_summary(name: str, metrics: dict) -> None:
    shown = ", ".join(f"{k}={v:.4f}" if isinstance(v, float) else f"{k}={v}" for k, v in metrics.items())
    print(f"[train] {name}: {shown}", flush=True)


def main(argv: list[str] | None = None) -> int:
    config, profile_reason = parse_profiled_config(TrainConfig, argv, __doc__, PRESETS)
    try:
        names = resolve_model_names(config.models)
        group = start_process_group(config.device)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if config.num_threads > 0:
        torch.set_num_threads(config.num_threads)
    if group.is_main:
        print(f"[train] {profile_reason}; device {group.device}, {group.world_size} process(es)", flush=True)
    try:
        data = load_cifar10(config.data, config.data_dir)
    except DataSourceError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    try:
        for name in names:
            metrics = train_one(name, config, data, group)
            if metrics is not None:
                _print_summary(name, metrics)
    finally:
        stop_process_group(group)
    return 0


if __name__ == "__main__":
    sys.exit(main())
