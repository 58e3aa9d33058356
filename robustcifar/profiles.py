"""PROFILE=auto|quick|study|full: how big a run is. `auto` means full where CUDA is available, else quick.

`study` is the original studies' protocol sized for a CPU; it is only ever chosen explicitly.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypeVar

from .config import parse_config
from .errors import UsageError

T = TypeVar("T")
PROFILES = ("quick", "study", "full")


def resolve_profile(requested: str) -> tuple[str, str]:
    """-> (profile, a sentence saying why), for the tools to print."""
    requested = (requested or "auto").lower()
    if requested in PROFILES:
        return requested, f"profile {requested} (asked for explicitly)"
    if requested != "auto":
        raise UsageError(f"unknown profile {requested!r}; expected auto, quick, study or full")
    try:
        import torch

        has_cuda = torch.cuda.is_available()
    except ImportError:
        has_cuda = False
    if has_cuda:
        return "full", "profile full (auto: CUDA is available)"
    return "quick", "profile quick (auto: no CUDA device, so the CPU-sized run)"


def parse_profiled_config(
    cls: type[T], argv: Sequence[str] | None, description: str, presets: dict[str, dict]
) -> tuple[T, str]:
    """parse_config with --profile resolved by resolve_profile -> (config, why that profile)."""
    reasons = []

    def resolve(requested: str) -> str:
        profile, why = resolve_profile(requested)
        reasons.append(why)
        return profile

    config = parse_config(cls, argv, description, presets, resolve)
    return config, reasons[0]
