"""The one table of corruptions: name, group, five severity parameter sets, function.

Every corruption module registers its functions with ``@corruption(...)``. The decorator call holds
the severity table right above the function it belongs to (as hendrycks/robustness does in
ImageNet-C/create_c/make_cifar_c.py), so a reader sees the parameters at a glance. The names are the
file stems of the released CIFAR-10-C (``gaussian_noise.npy`` ...) and of CIFAR-10-C-bar (Mintun et
al. 2021, written the same way by its make_cifar10_c_bar.py), and the order of the tuples below is
the order of the papers and of the specs (``../shared/specs/cifar10c.md`` and ``cifar10c-bar.md``
beside the checkout).

Three families: the 15 CIFAR-10-C benchmark corruptions, its 4 extra (held-out) ones, and the 10 of
CIFAR-10-C-bar. ``ALL_CORRUPTIONS`` stays the 19 of CIFAR-10-C (the benchmark, the training
evaluation and the default folder are those); ``KNOWN_CORRUPTIONS`` adds CIFAR-10-C-bar's 10, and
every name in it can be passed to ``corrupt``.
"""

from __future__ import annotations

import dataclasses
import numbers
from collections.abc import Callable
from typing import Any

BENCHMARK = "benchmark"
EXTRA = "extra"
CBAR = "cbar"

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
# CIFAR-10-C-bar, in the order of the spec's table (alphabetical); the original's spelling
# "abberation" is kept, since it is the file stem.
CBAR_CORRUPTIONS: tuple[str, ...] = (
    "blue_noise_sample",
    "brownish_noise",
    "checkerboard_cutout",
    "circular_motion_blur",
    "inverse_sparkles",
    "lines",
    "pinch_and_twirl",
    "ripple",
    "sparkles",
    "transverse_chromatic_abberation",
)
KNOWN_CORRUPTIONS: tuple[str, ...] = ALL_CORRUPTIONS + CBAR_CORRUPTIONS
SEVERITIES: tuple[int, ...] = (1, 2, 3, 4, 5)

# The families, by the name a folder's record and the tools use, and the group of their registry
# entries.
FAMILIES: dict[str, tuple[str, ...]] = {
    "cifar10c_benchmark": BENCHMARK_CORRUPTIONS,
    "cifar10c_extra": EXTRA_CORRUPTIONS,
    "cbar": CBAR_CORRUPTIONS,
}
FAMILY_GROUPS: dict[str, str] = {
    "cifar10c_benchmark": BENCHMARK,
    "cifar10c_extra": EXTRA,
    "cbar": CBAR,
}
# What a --family option of the tools selects: one family, the released CIFAR-10-C (its two
# families, the default everywhere), or every corruption.
SELECTIONS: dict[str, tuple[str, ...]] = {
    "cifar10c": ALL_CORRUPTIONS,
    **FAMILIES,
    "all": KNOWN_CORRUPTIONS,
}


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


def family_of(name: object) -> str:
    """The family of a corruption ("cifar10c_benchmark", "cifar10c_extra" or "cbar")."""
    for family, names in FAMILIES.items():
        if name in names:
            return family
    lookup(name)  # raises the error that lists the allowed names
    raise AssertionError("unreachable: every known corruption is in a family")


def select(selection: object) -> tuple[str, ...]:
    """The corruptions of a SELECTIONS key ("cifar10c", "cbar", "all" ...), or a CorruptionError."""
    if not isinstance(selection, str) or selection not in SELECTIONS:
        raise CorruptionError(f"unknown family {selection!r}; allowed: {', '.join(SELECTIONS)}")
    return SELECTIONS[selection]


def corruption(name: str, group: str, *, random: bool, severities: tuple[Any, ...]):
    """Decorator that enters a corruption function into REGISTRY under its file stem."""
    family = next((key for key, names in FAMILIES.items() if name in names), None)
    if family is None or group != FAMILY_GROUPS[family]:
        raise ValueError(f"{name!r} is not a corruption of group {group!r}")
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
    if not isinstance(name, str) or name not in KNOWN_CORRUPTIONS:
        raise CorruptionError(
            f"unknown corruption {name!r}; allowed: {', '.join(KNOWN_CORRUPTIONS)}"
        )
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
