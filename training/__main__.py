"""`python -m training [--models all] [--profile auto|quick|study|full] [--seeds 0,1,2] [--budgets 5,10,20] ...`

Trains each model once per training seed and budget (runs named <model>[-seed<N>][-ep<N>], see
robustcifar/model_specs.py). Stopped (Ctrl-C, SIGTERM, a kill, a full disk), the same command
resumes each run after its last finished epoch and skips the runs already finished.
--help lists all options."""

from __future__ import annotations

import contextlib
import dataclasses
import errno
import sys

import torch

from robustcifar.datasets import DataSourceError, load_cifar10
from robustcifar.errors import UsageError
from robustcifar.model_specs import RunName, parse_int_list, resolve_model_names
from robustcifar.profiles import parse_profiled_config
from robustcifar.stopping import exit_code, signal_name, sigterm_as_stop

from .config import PRESETS, TrainConfig
from .distributed import start_process_group, stop_process_group
from .resume import data_digest
from .run import train_one


def _print_summary(name: str, metrics: dict) -> None:
    shown = ", ".join(f"{k}={v:.4f}" if isinstance(v, float) else f"{k}={v}" for k, v in metrics.items())
    print(f"[train] {name}: {shown}", flush=True)


def planned_runs(config: TrainConfig) -> list[tuple[RunName, TrainConfig]]:
    """Every (run, its resolved config): each model x training seed x budget, model by model."""
    models = resolve_model_names(config.models)
    seeds = parse_int_list(config.seeds, "--seeds") if config.seeds else (config.seed,)
    budgets = parse_int_list(config.budgets, "--budgets") if config.budgets else (config.epochs,)
    if not seeds or not budgets or 0 in budgets:
        raise UsageError("--seeds and --budgets need at least one value, and budgets are at least 1 epoch")
    runs = []
    for name in models:
        named = RunName.parse(name)
        if named.int8:
            raise UsageError(f"{name} is an int8 copy: train {named.float_run}, then `python -m export quantize`")
        if str(named) != named.model:  # a run named in full (angular-seed1, ce_clean-ep10) is that run alone
            epochs = named.epochs or config.epochs
            run = RunName(named.model, named.seed, None if epochs == config.epochs else epochs)
            runs.append((run, dataclasses.replace(config, seed=named.seed, epochs=epochs)))
            continue
        for seed in seeds:
            for epochs in budgets:
                run = RunName(name, seed, None if epochs == config.epochs else epochs)
                runs.append((run, dataclasses.replace(config, seed=seed, epochs=epochs)))
    return list({str(run): (run, c) for run, c in runs}.values())  # each run once


def main(argv: list[str] | None = None) -> int:
    config, profile_reason = parse_profiled_config(TrainConfig, argv, __doc__, PRESETS)
    try:
        runs = planned_runs(config)
        group = start_process_group(config.device)
    except ValueError as exc:  # UsageError included
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if config.num_threads > 0:
        torch.set_num_threads(config.num_threads)
    if group.is_main:
        print(f"[train] {profile_reason}; device {group.device}, {group.world_size} process(es); "
              f"{len(runs)} run(s): {', '.join(str(r) for r, _ in runs)}", flush=True)
    current = None
    stack = contextlib.ExitStack()
    stack.enter_context(sigterm_as_stop())
    try:
        data = load_cifar10(config.data, config.data_dir, progress=config.progress)
        digest = data_digest(data)
        for run, run_config in runs:
            current = run
            metrics = train_one(run, run_config, data, group, digest)
            if metrics is not None:
                _print_summary(str(run), metrics)
    except (DataSourceError, UsageError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt as exc:
        print(f"\n[train] stopped ({signal_name(exc)}) during {current}: the same command resumes it after its last "
              "finished epoch", file=sys.stderr, flush=True)
        return exit_code(exc)
    except OSError as exc:
        if exc.errno not in (errno.ENOSPC, errno.EDQUOT):
            raise
        print(f"error: the disk is full ({exc}) during {current}: free some space, then the same command resumes "
              "it after its last finished epoch", file=sys.stderr, flush=True)
        return 1
    finally:
        stack.close()
        stop_process_group(group)
    return 0


if __name__ == "__main__":
    sys.exit(main())
