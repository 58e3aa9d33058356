"""`python -m benchmark.load.overload`: does the service keep answering at capacity when far more load comes?

Run by hand against a running server (`make serve`), for one or more models, in one run each:

1. capacity: answers/s of 16 closed-loop clients (the level where the server is saturated), and
   the p99 of 64 closed-loop clients (the reference for answers under overload);
2. open-loop arrivals at 2x, 4x and 8x that capacity (arrivals do not wait for answers);
3. 256 closed-loop clients that honour Retry-After (polite), then 256 that ignore it (what
   `hey -c 256` does);
4. recovery: 16 clients again, and how long until their p50 (per 0.5 s window) is back within 20%
   of its value in step 1.

For each phase: answers/s, refusals/s (503), other failures, p50/p99 of answers and of refusals.
The load generator (benchmark/load/http_load.py) runs on the same machine and only targets loopback;
by default it lowers its own priority (nice 19, its session's too: see robustcifar/priority.py), so that it takes only the CPU the server leaves,
as clients on other machines would: an impolite client on the same 2 cores otherwise spends a core
on its own refusals, which measures the client, not the server (`--nice 0` shows that case).
The targets of the issue are printed next to the figures; nothing is asserted.
"""

from __future__ import annotations

import asyncio
import sys
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from robustcifar.config import config_to_dict, parse_config
from robustcifar.errors import UsageError
from robustcifar.paths import reports_dir
from robustcifar.priority import lower_priority
from robustcifar.provenance import run_record, run_started, write_json
from robustcifar.serving.hosts import require_loopback

from .http_load import NO_ANSWER, Sample, closed_loop, open_loop
from .load_test import LoadTestError
from .machine import busy_cores, cpu_counters
from .targets import LoadOptions, prediction_target, protocol_for

# Targets of the overload issue, on the 2-core machine with the load generator beside the server.
OPEN_LOOP_SHARE = 0.90
POLITE_SHARE = 0.90
IMPOLITE_SHARE = 0.70
REFUSAL_P99_MS = 20.0
ANSWER_P99_FACTOR = 2.0
RECOVERY_S = 5.0
RECOVERY_P50_TOLERANCE = 0.20


@dataclass
class OverloadConfig(LoadOptions):
    models: tuple[str, ...] = field(default=("ce_clean", "angular"), metadata={"help": "models to overload, in turn"})
    capacity_clients: int = field(default=16, metadata={"help": "closed-loop clients that measure capacity"})
    reference_clients: int = field(default=64, metadata={"help": "closed-loop clients of the latency reference"})
    overload_clients: int = field(default=256, metadata={"help": "closed-loop clients of the overload phases"})
    open_loop_factors: tuple[float, ...] = field(default=(2.0, 4.0, 8.0), metadata={"help": "open-loop arrival rates, as multiples of capacity"})
    phase_s: float = field(default=20.0, metadata={"help": "seconds per overload phase"})
    capacity_s: float = field(default=15.0, metadata={"help": "seconds of the capacity and reference phases"})
    recovery_s: float = field(default=10.0, metadata={"help": "seconds of the recovery phase"})
    nice: int = field(default=19, metadata={"help": "niceness added to this load generator's process (0: none)"})
    out: Path | None = field(default=None, metadata={"help": "JSON output (default reports/overload.json)"})


@dataclass
class Phase:
    name: str
    seconds: float
    answers_per_s: float
    refusals_per_s: float
    other_failures: int
    answer_p50_ms: float
    answer_p99_ms: float
    refusal_p50_ms: float
    refusal_p99_ms: float
    busy_cores: float
    statuses: dict[str, int]


def percentile_ms(values: list[float], q: float) -> float:
    return float(np.percentile(values, q)) * 1e3 if values else float("nan")


def summarise_phase(name: str, samples: list[Sample], seconds: float, busy: float) -> Phase:
    answers = [s.latency_s for s in samples if s.status == 200]
    refusals = [s.latency_s for s in samples if s.status == 503]
    return Phase(name, seconds, len(answers) / seconds, len(refusals) / seconds,
                 sum(1 for s in samples if s.status not in (200, 503)),
                 percentile_ms(answers, 50), percentile_ms(answers, 99), percentile_ms(refusals, 50),
                 percentile_ms(refusals, 99), busy, {str(k): v for k, v in sorted(Counter(s.status for s in samples).items())})


def timed(name: str, run) -> tuple[Phase, list[Sample]]:
    machine = cpu_counters()
    begin = time.perf_counter()
    samples = asyncio.run(run)
    seconds = time.perf_counter() - begin
    phase = summarise_phase(name, samples, seconds, busy_cores(machine, cpu_counters()))
    print(f"[overload] {format_phase(phase)}", flush=True)
    return phase, samples


def recovery_seconds(samples: list[Sample], baseline_p50_ms: float, window_s: float = 0.5) -> float | None:
    """Seconds from the phase's start to the first window whose p50 is within tolerance of the baseline,
    and every later window too; None if that never happens."""
    if not samples:
        return None
    start = min(s.started for s in samples)
    windows: dict[int, list[float]] = {}
    for s in samples:
        if s.status == 200:
            windows.setdefault(int((s.started + s.latency_s - start) / window_s), []).append(s.latency_s)
    good = {w: abs(np.median(v) * 1e3 - baseline_p50_ms) <= RECOVERY_P50_TOLERANCE * baseline_p50_ms
            for w, v in windows.items()}
    for w in sorted(good):
        if all(good[later] for later in good if later >= w):
            return w * window_s
    return None


def format_phase(p: Phase) -> str:
    return (f"{p.name:<28} answers {p.answers_per_s:7.1f}/s  refusals {p.refusals_per_s:8.1f}/s  other {p.other_failures:>5}  "
            f"answer p50/p99 {p.answer_p50_ms:7.1f}/{p.answer_p99_ms:7.1f} ms  refusal p50/p99 "
            f"{p.refusal_p50_ms:6.2f}/{p.refusal_p99_ms:6.2f} ms  busy cores {p.busy_cores:.2f}")


def verdicts(capacity: float, reference_p99: float, phases: dict[str, Phase], recovery: float | None,
             clients: int) -> list[str]:
    def line(label: str, value: float, target: float, ok: bool, unit: str = "") -> str:
        return f"{label}: {value:.1f}{unit} (target {target:.1f}{unit}: {'met' if ok else 'NOT met'})"

    lines = []
    for name, phase in phases.items():
        if name.startswith("open loop"):
            share = OPEN_LOOP_SHARE
        elif name.startswith("polite"):
            share = POLITE_SHARE
        elif name.startswith("impolite"):
            share = IMPOLITE_SHARE
        else:
            continue
        lines.append(line(f"{name}: answers/s", phase.answers_per_s, share * capacity,
                          phase.answers_per_s >= share * capacity))
        if phase.refusals_per_s > 0:
            lines.append(line(f"{name}: refusal p99", phase.refusal_p99_ms, REFUSAL_P99_MS,
                              phase.refusal_p99_ms < REFUSAL_P99_MS, " ms"))
        lines.append(line(f"{name}: answer p99", phase.answer_p99_ms, ANSWER_P99_FACTOR * reference_p99,
                          phase.answer_p99_ms <= ANSWER_P99_FACTOR * reference_p99, " ms"))
    if recovery is None:
        lines.append("recovery: p50 never came back within 20% of its value before (NOT met)")
    else:
        lines.append(line(f"recovery: p50 at {clients} clients back within 20% after", recovery, RECOVERY_S,
                          recovery <= RECOVERY_S, " s"))
    return lines


def overload_model(config: OverloadConfig, model: str) -> dict:
    protocol = protocol_for(config, model)
    url = f"{config.url.rstrip('/')}{protocol.path(model)}"
    target = prediction_target(config, model, protocol=protocol)
    first = asyncio.run(closed_loop(target, 1, 0.5, polite=True))
    if not first or first[0].status != 200:
        status = first[0].status if first else NO_ANSWER
        raise LoadTestError(f"{url} did not answer a prediction (status {status}); start the server with `make serve`")
    phases: dict[str, Phase] = {}
    capacity, capacity_samples = timed(f"{model}: closed {config.capacity_clients}",
                                       closed_loop(target, config.capacity_clients, config.capacity_s, polite=True))
    phases["capacity"] = capacity
    phases["reference"], _ = timed(f"{model}: closed {config.reference_clients}",
                                   closed_loop(target, config.reference_clients, config.capacity_s, polite=True))
    for factor in config.open_loop_factors:
        rate = factor * capacity.answers_per_s
        phases[f"open loop {factor:g}x"], _ = timed(f"{model}: open {factor:g}x ({rate:.0f}/s)",
                                                   open_loop(target, rate, config.phase_s))
    n = config.overload_clients
    phases[f"polite closed {n}"], _ = timed(f"{model}: polite closed {n}", closed_loop(target, n, config.phase_s, True))
    phases[f"impolite closed {n}"], _ = timed(f"{model}: impolite closed {n}",
                                              closed_loop(target, n, config.phase_s, False))
    recovery_phase, samples = timed(f"{model}: recovery, closed {config.capacity_clients}",
                                    closed_loop(target, config.capacity_clients, config.recovery_s, polite=True))
    phases["recovery"] = recovery_phase
    recovered = recovery_seconds(samples, capacity.answer_p50_ms)
    lines = verdicts(capacity.answers_per_s, phases["reference"].answer_p99_ms, phases, recovered,
                     config.capacity_clients)
    print("\n".join(f"[overload] {model}: {line}" for line in lines), flush=True)
    return {"model": model, "capacity_answers_per_s": capacity.answers_per_s, "recovery_s": recovered,
            "phases": [asdict(p) for p in phases.values()], "targets": lines,
            "capacity_samples": len(capacity_samples)}


def main(argv: list[str] | None = None) -> int:
    config = parse_config(OverloadConfig, argv, __doc__)
    started = run_started()
    try:
        require_loopback(config.url)
        lower_priority(config.nice)
        results = [overload_model(config, model) for model in config.models]
    except (LoadTestError, UsageError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    out = config.out or reports_dir() / "overload.json"
    write_json(out, {"models": results, "config": config_to_dict(config), "run": run_record(started=started)})
    print(f"[overload] wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
