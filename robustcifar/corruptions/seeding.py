"""Where the random numbers come from.

The original drew from numpy's unseeded global generator, so the released CIFAR-10-C cannot be
regenerated bit for bit. Here every chunk of images (batch.CHUNK_SIZE) gets its own numpy PCG64
generator, seeded from (seed, corruption name, severity, chunk index) through a SeedSequence: the
same arguments always give the same images, cells of a CIFAR-10-C folder get independent streams,
and no global random state is read or changed.

Numbers are drawn on the CPU and only then moved to the compute device, so CPU and CUDA runs use
the very same draws and differ at most by floating-point rounding.
"""

from __future__ import annotations

import numbers
import zlib

import numpy as np
import torch

from robustcifar.corruptions.registry import CorruptionError


def check_seed(seed: object) -> int:
    """``seed`` as a non-negative int, or a CorruptionError."""
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or int(seed) < 0:
        raise CorruptionError(f"seed must be a non-negative integer, got {seed!r}")
    return int(seed)


def stream_key(text: str) -> int:
    """A stable 32-bit number for a name (CRC-32; Python's hash() changes between runs)."""
    return zlib.crc32(text.encode("utf-8"))


def generator(seed: int, *key: int) -> np.random.Generator:
    """A numpy generator for ``seed`` and a stream key (SeedSequence spawn key)."""
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence(seed, spawn_key=key)))


def chunk_generator(seed: int, name: str, severity: int, chunk: int) -> np.random.Generator:
    """The generator for one chunk of one (corruption, severity) call."""
    return generator(seed, stream_key(name), severity, chunk)


class Draws:
    """Random numbers for one chunk, drawn on the CPU and handed over on ``device``.

    ``rng`` is the numpy generator itself, for the few steps that must run on the CPU anyway
    (Poisson draws, the plasma fractal); use it only through this object so that the order of the
    draws is fixed by the code of the corruption alone.
    """

    def __init__(self, rng: np.random.Generator, device: torch.device):
        self.rng = rng
        self.device = device

    def tensor(self, array: np.ndarray, dtype: torch.dtype = torch.float32) -> torch.Tensor:
        """A CPU-side array as a tensor on the compute device."""
        return torch.as_tensor(np.asarray(array), dtype=dtype).to(self.device)

    def normal(self, shape: tuple[int, ...], mean: float = 0.0, std: float = 1.0) -> torch.Tensor:
        values = self.rng.standard_normal(shape, dtype=np.float32)
        return self.tensor(values).mul_(std).add_(mean)

    def uniform(self, low: float, high: float, shape: tuple[int, ...]) -> torch.Tensor:
        return self.tensor(self.rng.uniform(low, high, shape))

    def integers(self, low: int | np.ndarray, high: int | np.ndarray, shape) -> torch.Tensor:
        """Uniform integers in [low, high) (bounds may be arrays broadcast against ``shape``)."""
        return self.tensor(self.rng.integers(low, high, shape), dtype=torch.int64)
