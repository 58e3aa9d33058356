"""Learning-rate schedule: linear warm-up to the peak, then linear decay to zero (one-cycle shape)."""

from __future__ import annotations


def one_cycle_factor(step: int, total_steps: int, warmup_fraction: float) -> float:
    """Multiplier of the peak LR at `step` (0-based) of `total_steps`."""
    warmup = max(1, round(warmup_fraction * total_steps))
    if step < warmup:
        return (step + 1) / warmup
    return max(0.0, (total_steps - step) / max(1, total_steps - warmup))
