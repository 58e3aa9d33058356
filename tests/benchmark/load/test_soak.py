"""The bookkeeping of benchmark/load/soak.py: snapshots, failures around a worker kill, memory growth."""

from __future__ import annotations

import os

import pytest

from benchmark.load.http_load import Sample
from benchmark.load.machine import resident_mb
from benchmark.load.soak import (
    KillRecord,
    Snapshot,
    Worker,
    memory_growth,
    recovered,
    split_failures,
    take_snapshot,
)


def snapshot(elapsed: float, rss: float, pid: int = 10) -> Snapshot:
    return Snapshot(elapsed, 0, 0, 0.0, 0.0, [Worker(pid, "READY", rss)])


def test_take_snapshot_counts_since_the_previous_one():
    samples = [Sample(0, 0.01, 200)] * 10 + [Sample(0, 0.02, 500)]
    first = take_snapshot(10.0, samples, None, 10.0, [])
    assert (first.answered, first.failed, first.per_second) == (11, 1, 1.0)
    samples += [Sample(0, 0.03, 200)] * 20
    second = take_snapshot(20.0, samples, first, 10.0, [])
    assert (second.answered, second.failed, second.per_second) == (31, 1, 2.0)
    assert second.p50_ms == pytest.approx(30.0)


def test_failures_answered_while_the_worker_restarts_are_counted_apart():
    start = 100.0
    samples = [Sample(start + 5, 0.1, 503),  # before the kill: counts against the run
               Sample(start + 29.9, 0.2, 500),  # answered just after the kill at 30 s
               Sample(start + 31, 2.0, 503),  # while restarting
               Sample(start + 40, 0.1, 200),
               Sample(start + 36, 0.1, 503),  # within the grace after recovery at 33 s
               Sample(start + 50, 0.1, 0)]  # long after: counts against the run
    kill = KillRecord(at_s=30.0, pid=1, recovered_at_s=33.0)
    assert split_failures(samples, start, kill, end_s=60.0) == (3, 2)
    assert split_failures(samples, start, None, end_s=60.0) == (0, 5)


def test_recovered_needs_a_new_ready_worker():
    kill = KillRecord(at_s=1.0, pid=7)
    assert not recovered(kill, [])
    assert not recovered(kill, [Worker(7, "READY", 1.0)])
    assert not recovered(kill, [Worker(8, "STARTING", None)])
    assert recovered(kill, [Worker(8, "READY", 100.0)])


def test_memory_growth_over_the_second_half():
    flat = [snapshot(t, 200.0 + (30 if t < 300 else 0.5 * (t >= 500))) for t in range(10, 610, 10)]
    growth, reference = memory_growth(flat, 600.0, None)
    assert reference == 300 and growth == pytest.approx(0.5)
    leaking = [snapshot(t, 200.0 + t / 10) for t in range(10, 610, 10)]
    assert memory_growth(leaking, 600.0, None)[0] == pytest.approx(30.0)


def test_memory_growth_ignores_the_killed_worker_and_waits_for_the_new_one_to_settle():
    before = [snapshot(t, 500.0, pid=1) for t in range(10, 400, 10)]
    after = [snapshot(t, 150.0 + (t >= 480) * 2.0, pid=2) for t in range(400, 610, 10)]
    kill = KillRecord(at_s=395.0, pid=1, recovered_at_s=405.0)
    growth, reference = memory_growth(before + after, 600.0, kill)
    assert reference == 440.0 and growth == pytest.approx(2.0)


def test_resident_mb_of_this_process():
    assert 1 < resident_mb(os.getpid()) < 100_000
    assert resident_mb(2**22 + 12345) is None
