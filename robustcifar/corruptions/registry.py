"""The one table of CIFAR-10-C corruptions: name, group, five severity parameter sets, function.

Every corruption module registers its functions with ``@corruption(...)``. The decorator call holds
the severity table right above the function it belongs to (as hendrycks/robustness does in
ImageNet-C/create_c/make_cifar_c.py), so a reader sees the parameters at a glance. The names are the
file stems of the released CIFAR-10-C (``gaussian_noise.npy`` ...), and the order of the tuples
below is the order of the paper and of the spec (``../shared/specs/cifar10c.md`` beside the checkout).
"""

from __future__ import annotations

import dataclasses
import numbers
from collections.abc import Callable
from typing import Any

BENCHMARK = "benchmark"
EXTRA = "extra"

BENCHMARK_CORRUPTIONS: tuple[str, ...] = (
    "gaussian_noise",
    "shot_noise",
    "impulse_noise",
    "defocus_blur",
    "glass_blur",
    "motion_blur",
    "zoom_blur",
    "snow",
    "frost",
    "fog",
    "brightness",
    "contrast",
    "elastic_transform",
    "pixelate",
    "jpeg_compression",
)
# Held out in the paper (for validation); released with CIFAR-10-C all the same.
EXTRA_CORRUPTIONS: tuple[str, ...] = ("speckle_noise", "gaussian_blur", "spatter", "saturate")
ALL_CORRUPTIONS: tuple[str, ...] = BENCHMARK_CORRUPTIONS + EXTRA_CORRUPTIONS
SEVERITIES: tuple[int, ...] = (1, 2, 3, 4, 5)


class CorruptionError(ValueError):
    """A bad argument: unknown corruption, severity outside 1-5, wrong image dtype or shape..."""


@dataclasses.dataclass(frozen=True)
class Corruption:
    """One registry entry.

    ``apply(x, params, draws)`` takes float images (n, 3, 32, 32) in [0, 1] on any device, the
    parameter set of one severity and a ``seeding.Draws`` for its random numbers, and returns float
    images of the same shape (clipping and rounding to uint8 happen in one place, in ``api``).
    """

    name: str
    group: str
    random: bool  # False: the output depends on the image and severity only, not on the seed
    severities: tuple[Any, ...]  # severities[s - 1] is the parameter set of severity s
    apply: Callable[..., Any]

    def params(self, severity: int) -> Any:
        return self.severities[check_severity(severity) - 1]


REGISTRY: dict[str, Corruption] = {}


def corruption(name: str, group: str, *, random: bool, severities: tuple[Any, ...]):
    """Decorator that enters a corruption function into REGISTRY under its CIFAR-10-C file stem."""
    expected = BENCHMARK if name in BENCHMARK_CORRUPTIONS else EXTRA
    if name not in ALL_CORRUPTIONS or group != expected:
        raise ValueError(f"{name!r} is not a CIFAR-10-C {group} corruption")
    if len(severities) != len(SEVERITIES):
        raise ValueError(f"{name}: need one parameter set per severity, got {len(severities)}")

    def register(function: Callable[..., Any]) -> Callable[..., Any]:
        if name in REGISTRY:
            raise ValueError(f"{name} registered twice")
        REGISTRY[name] = Corruption(name, group, random, tuple(severities), function)
        return function

    return register


def lookup(name: object) -> Corruption:
    """The registry entry of ``name``, or a CorruptionError that lists the allowed names."""
    if not isinstance(name, str) or name not in ALL_CORRUPTIONS:
        raise CorruptionError(f"unknown corruption {name!r}; allowed: {', '.join(ALL_CORRUPTIONS)}")
    if name not in REGISTRY:
        raise CorruptionError(f"corruption {name!r} is not implemented yet")
    return REGISTRY[name]


def check_severity(severity: object) -> int:
    """``severity`` as an int in 1-5, or a CorruptionError saying what is allowed."""
    if isinstance(severity, bool) or not isinstance(severity, numbers.Integral):
        raise CorruptionError(f"severity must be an integer in 1-5, got {severity!r}")
    if int(severity) not in SEVERITIES:
        raise CorruptionError(f"severity must be one of 1, 2, 3, 4, 5; got {severity}")
    return int(severity)
