"""A long run at constant concurrency against a live endpoint: failed requests, throughput, and the
memory of the model's TorchServe workers over time; optionally one worker killed mid-run.

    make serve
    .venv/bin/python -m benchmark.load.soak --model ce_clean --concurrency 16 --duration-s 600
    .venv/bin/python -m benchmark.load.soak --duration-s 180 --kill-worker-at-s 60

Run by hand (it takes as long as it is told). The load is the closed loop of
benchmark/load/http_load.py, as for benchmark/load/serving_throughput.py. Every --sample-every-s it prints the requests answered, failures
and the workers' resident memory (read from /proc by the pids TorchServe's management API gives).

With --kill-worker-at-s, one worker of the model gets SIGKILL at that time; TorchServe must start
a new one. Failures answered between the kill and the new worker's readiness (plus a few seconds)
are counted apart, as the cost of the kill; all other failures count against the run.

Exit status 0 when no request failed outside the kill's window and the workers' memory stopped
growing: their resident memory grew by at most --max-growth-mb over the second half of the run
(or since the restarted worker settled, when the kill fell in that half). The summary goes to
reports/soak.json.
"""

from __future__ import annotations

import os
import signal
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from robustcifar.config import config_to_dict
from robustcifar.errors import UsageError
from robustcifar.paths import reports_dir
from robustcifar.provenance import RunStart, run_record, run_started, write_json
from robustcifar.serving.client import ManagementClient
from robustcifar.serving.hosts import require_loopback

from .http_load import BackgroundLoad, Sample, failure_summary
from .machine import resident_mb
from .reports import tool_main
from .targets import LoadOptions, prediction_target

RECOVERY_GRACE_S = 5.0
SETTLE_AFTER_RESTART_S = 30.0


@dataclass
class SoakConfig(LoadOptions):
    model: str = field(default="ce_clean", metadata={"help": "the model to soak"})
    concurrency: int = field(default=16, metadata={"help": "closed-loop clients"})
    duration_s: float = field(default=600.0, metadata={"help": "seconds of load"})
    sample_every_s: float = field(default=10.0, metadata={"help": "seconds between memory and throughput samples"})
    kill_worker_at_s: float | None = field(default=None, metadata={
        "help": "SIGKILL one worker of the model this many seconds in (default: no kill)"})
    max_growth_mb: float = field(default=20.0, metadata={
        "help": "most the workers' memory may grow over the second half of the run"})
    out: Path | None = field(default=None, metadata={"help": "JSON summary (default reports/soak.json)"})


@dataclass
class Worker:
    pid: int
    status: str
    rss_mb: float | None


@dataclass
class Snapshot:
    elapsed_s: float
    answered: int  # requests answered so far (any status)
    failed: int  # of them, not a 200 with a prediction
    per_second: float  # successful answers per second since the previous snapshot
    p50_ms: float
    workers: list[Worker]

    @property
    def rss_mb(self) -> float | None:
        values = [w.rss_mb for w in self.workers if w.rss_mb is not None]
        return sum(values) if values else None

    @property
    def pids(self) -> tuple[int, ...]:
        return tuple(sorted(w.pid for w in self.workers))


def model_workers(management: ManagementClient, model: str) -> list[Worker]:
    """The model's workers as the management API describes them; [] when it does not answer."""
    return [Worker(int(w["pid"]), str(w.get("status")), resident_mb(int(w["pid"])))
            for w in management.workers(model) if w.get("pid")]


def take_snapshot(elapsed_s: float, samples: list[Sample], previous: Snapshot | None, interval_s: float,
                  workers: list[Worker]) -> Snapshot:
    answered = len(samples)
    since = samples[previous.answered if previous else 0:answered]
    good = [s.latency_s for s in since if s.status == 200]
    failed = (previous.failed if previous else 0) + sum(1 for s in since if s.status != 200)
    p50 = float(np.percentile(good, 50)) * 1e3 if good else float("nan")
    return Snapshot(elapsed_s, answered, failed, len(good) / interval_s, p50, workers)


@dataclass
class KillRecord:
    at_s: float
    pid: int
    recovered_at_s: float | None = None  # when a new worker of the model was READY
    failed_requests: int = 0


def kill_one_worker(workers: list[Worker], at_s: float) -> KillRecord:
    if not workers:
        raise UsageError("the management API lists no worker to kill")
    os.kill(workers[0].pid, signal.SIGKILL)
    return KillRecord(at_s, workers[0].pid)


def recovered(kill: KillRecord, workers: list[Worker]) -> bool:
    return bool(workers) and kill.pid not in {w.pid for w in workers} and all(w.status == "READY" for w in workers)


def split_failures(samples: list[Sample], start: float, kill: KillRecord | None, end_s: float) -> tuple[int, int]:
    """(failures attributed to the kill, all other failures); times relative to `start`."""
    window_end = (kill.recovered_at_s if kill and kill.recovered_at_s is not None else end_s) + RECOVERY_GRACE_S
    during_kill = other = 0
    for s in samples:
        if s.status == 200:
            continue
        answered_at = s.started + s.latency_s - start
        if kill is not None and kill.at_s <= answered_at <= window_end:
            during_kill += 1
        else:
            other += 1
    return during_kill, other


def memory_growth(snapshots: list[Snapshot], duration_s: float, kill: KillRecord | None) -> tuple[float | None, float]:
    """(growth in MB over the second half, or since the restarted worker settled; the reference time)."""
    reference_s = duration_s / 2
    if kill is not None and kill.recovered_at_s is not None:
        reference_s = max(reference_s, kill.recovered_at_s + SETTLE_AFTER_RESTART_S)
    final = snapshots[-1]
    same_workers = [s for s in snapshots if s.pids == final.pids and s.rss_mb is not None]
    later = [s for s in same_workers if s.elapsed_s >= reference_s]
    if len(later) < 2:
        return None, reference_s
    return later[-1].rss_mb - later[0].rss_mb, later[0].elapsed_s


def format_snapshot(s: Snapshot) -> str:
    rss = f"{s.rss_mb:7.1f} MB" if s.rss_mb is not None else "      ? MB"
    pids = ",".join(str(p) for p in s.pids) or "none"
    return (f"[soak] {s.elapsed_s:6.0f} s  {s.answered:>8} answered  {s.failed:>5} failed  "
            f"{s.per_second:6.1f} req/s  p50 {s.p50_ms:6.2f} ms  workers {pids}: {rss}")


def run(config: SoakConfig) -> int:
    started = run_started()
    require_loopback(config.url)
    management = ManagementClient(config.management_url, config.keys().get("management"))
    if not model_workers(management, config.model):
        raise UsageError(f"{config.management_url} lists no worker for {config.model}; is the server up?")
    load = BackgroundLoad(prediction_target(config, config.model), config.concurrency)
    snapshots: list[Snapshot] = []
    kill: KillRecord | None = None
    start = time.perf_counter()
    load.start()
    try:
        next_sample = config.sample_every_s
        while (elapsed := time.perf_counter() - start) < config.duration_s:
            workers = model_workers(management, config.model)
            if config.kill_worker_at_s is not None and kill is None and elapsed >= config.kill_worker_at_s:
                kill = kill_one_worker(workers, elapsed)
                print(f"[soak] {elapsed:6.0f} s  killed worker {kill.pid} (SIGKILL)", flush=True)
            elif kill is not None and kill.recovered_at_s is None and recovered(kill, workers):
                kill.recovered_at_s = elapsed
                print(f"[soak] {elapsed:6.0f} s  TorchServe restarted the worker "
                      f"({elapsed - kill.at_s:.1f} s after the kill)", flush=True)
            if elapsed >= next_sample:
                snapshots.append(take_snapshot(elapsed, load.samples, snapshots[-1] if snapshots else None,
                                               config.sample_every_s, workers))
                print(format_snapshot(snapshots[-1]), flush=True)
                next_sample += config.sample_every_s
            time.sleep(1.0)
    finally:
        load.stop()
    return summarise(config, load.samples, start, snapshots, kill, started)


def summarise(config: SoakConfig, samples: list[Sample], start: float, snapshots: list[Snapshot],
              kill: KillRecord | None, started: RunStart) -> int:
    during_kill, other = split_failures(samples, start, kill, config.duration_s)
    if kill is not None:
        kill.failed_requests = during_kill
    growth, reference_s = memory_growth(snapshots, config.duration_s, kill) if snapshots else (None, 0.0)
    good = [s.latency_s for s in samples if s.status == 200]
    print(f"[soak] {len(samples)} requests in {config.duration_s:.0f} s at concurrency {config.concurrency}: "
          f"{len(good) / config.duration_s:.1f} req/s, p50 {np.percentile(good, 50) * 1e3:.2f} ms, "
          f"p99 {np.percentile(good, 99) * 1e3:.2f} ms" if good else "[soak] no request succeeded")
    statuses = failure_summary(samples)
    print(f"[soak] failed requests: {other} outside the kill window"
          + (f", {during_kill} around the kill" if kill else "")
          + (f"; by status (0: no answer): {statuses}" if statuses else ""))
    if kill is not None:
        restart = (f"restarted after {kill.recovered_at_s - kill.at_s:.1f} s" if kill.recovered_at_s is not None
                   else "NOT restarted before the end")
        print(f"[soak] killed worker {kill.pid} at {kill.at_s:.0f} s: {restart}")
    if growth is None:
        print("[soak] too few memory samples of the final workers to judge growth (run longer)")
    else:
        print(f"[soak] worker memory grew {growth:+.1f} MB from {reference_s:.0f} s to the end "
              f"(limit {config.max_growth_mb:g} MB)")
    passed = (other == 0 and growth is not None and growth <= config.max_growth_mb
              and (kill is None or kill.recovered_at_s is not None))
    print(f"[soak] {'PASSED' if passed else 'FAILED'}")
    out = config.out or reports_dir() / "soak.json"
    write_json(out, {
        "passed": passed,
        "requests": len(samples),
        "succeeded": len(good),
        "failed_outside_kill_window": other,
        "failed_by_status": {str(k): v for k, v in statuses.items()},
        "kill": asdict(kill) if kill else None,
        "memory_growth_mb": growth,
        "memory_reference_s": reference_s,
        "snapshots": [{**asdict(s), "rss_mb": s.rss_mb} for s in snapshots],
        "config": config_to_dict(config),
        "run": run_record(started=started),
    })
    print(f"[soak] wrote {out}")
    return 0 if passed else 1


def main(argv: list[str] | None = None) -> int:
    return tool_main(SoakConfig, run, argv, __doc__)


if __name__ == "__main__":
    sys.exit(main())
