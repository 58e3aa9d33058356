"""Blur corruptions: Gaussian, defocus (disk), glass, motion and zoom blur.

Parameters from hendrycks/robustness, ImageNet-C/create_c/make_cifar_c.py (the CIFAR-10 script).
"""

from __future__ import annotations

import functools
from typing import NamedTuple

import numpy as np
import torch

from robustcifar.corruptions import filters, motion, resample
from robustcifar.corruptions.registry import BENCHMARK, EXTRA, corruption
from robustcifar.corruptions.seeding import Draws


@corruption(
    "gaussian_blur",
    EXTRA,
    random=False,
    # sigma in pixels; skimage.filters.gaussian: radius int(4 sigma + 0.5), edges replicated
    severities=(0.4, 0.6, 0.7, 0.8, 1.0),
)
def gaussian_blur(x: torch.Tensor, sigma: float, draws: Draws) -> torch.Tensor:
    return filters.gaussian_filter(x, sigma, "nearest")


class Defocus(NamedTuple):
    radius: float  # of the disk, in pixels
    alias_blur: float  # sigma of the 3x3 Gaussian that smooths the disk's jagged edge


@corruption(
    "defocus_blur",
    BENCHMARK,
    random=False,
    severities=(
        #      radius, alias_blur
        Defocus(0.3, 0.4),
        Defocus(0.4, 0.5),
        Defocus(0.5, 0.6),
        Defocus(1.0, 0.2),
        Defocus(1.5, 0.1),
    ),
)
def defocus_blur(x: torch.Tensor, p: Defocus, draws: Draws) -> torch.Tensor:
    # cv2.filter2D's default border is BORDER_REFLECT_101 ("mirror").
    return filters.filter2d(x, disk_kernel(p.radius, p.alias_blur), "mirror")


def disk_kernel(radius: float, alias_blur: float) -> np.ndarray:
    """The original's disk(): pixels within ``radius`` of the centre, normalised, then smoothed by
    cv2.GaussianBlur with a 3x3 kernel of sigma ``alias_blur``.

    The original draws the disk on a 17x17 grid; for the radii used here (<= 1.5) it fits in the
    central 3x3, so after the 3x3 smoothing everything outside the central 5x5 is zero.
    """
    if radius > 1.5:
        raise ValueError("disk_kernel keeps a 5x5 support, enough for radii up to 1.5 only")
    offsets = np.arange(-2, 3)
    rows, cols = np.meshgrid(offsets, offsets, indexing="ij")
    disk = (rows**2 + cols**2 <= radius**2).astype(np.float64)
    disk /= disk.sum()
    # cv2.getGaussianKernel(3, sigma): exp(-x^2 / 2 sigma^2) at x = -1, 0, 1, normalised.
    bell = np.exp(-np.array([1.0, 0.0, 1.0]) / (2 * alias_blur**2))
    bell /= bell.sum()
    smoothing = np.outer(bell, bell)
    kernel = np.zeros_like(disk)
    padded = np.pad(disk, 1)
    for (i, j), weight in np.ndenumerate(smoothing):
        kernel += weight * padded[i : i + 5, j : j + 5]
    return kernel


class Glass(NamedTuple):
    sigma: float  # of the Gaussian blur before and after the pixel moves
    max_delta: int  # pixels move by up to this much (only 1 is supported, see move_pixels)
    passes: int  # of pixel moves


@corruption(
    "glass_blur",
    BENCHMARK,
    random=True,
    severities=(
        #    sigma, max_delta, passes
        Glass(0.05, 1, 1),
        Glass(0.25, 1, 1),
        Glass(0.4, 1, 1),
        Glass(0.25, 1, 2),
        Glass(0.4, 1, 2),
    ),
)
def glass_blur(x: torch.Tensor, p: Glass, draws: Draws) -> torch.Tensor:
    if p.max_delta != 1:
        raise ValueError("glass_blur's pixel moves are a single gather only for max_delta = 1")
    inner = x.shape[-1] - 2  # rows and columns 2..31 move
    # One (column, row) move per moving pixel and pass, each uniform in {-1, 0} like the
    # original's np.random.randint(-1, 1, size=(2,)).
    moves = draws.integers(-1, 1, (len(x), p.passes, inner, inner, 2))
    return glass_blur_with_moves(x, p.sigma, moves)


def glass_blur_with_moves(x: torch.Tensor, sigma: float, moves: torch.Tensor) -> torch.Tensor:
    """Glass blur with given moves (n, passes, 30, 30, 2) of (column, row) offsets in {-1, 0}."""
    x = filters.gaussian_filter(x, sigma, "nearest")
    # The original keeps the blurred image as uint8 here (truncating); rounded instead.
    x = x.clamp(0.0, 1.0).mul(255.0).round().div(255.0)
    for step in range(moves.shape[1]):
        x = move_pixels(x, moves[:, step])
    return filters.gaussian_filter(x, sigma, "nearest")


def move_pixels(x: torch.Tensor, moves: torch.Tensor) -> torch.Tensor:
    """One pass of the original's "local shuffle" as a single gather.

    The original loops h, w from 31 down to 2 and means to swap pixel (h, w) with (h + dy,
    w + dx), but its tuple assignment on numpy views copies instead: (h, w) receives the pixel at
    (h + dy, w + dx) and nothing else changes. With dx, dy in {-1, 0} and the loop running
    downwards, every read is of a pixel the pass has not written yet, so the whole pass reads the
    image as it was before the pass: a gather. Rows and columns 0 and 1 are never written.
    """
    n, channels, height, width = x.shape
    inner = moves.shape[1]
    start = height - inner
    rows = torch.arange(start, height, device=x.device)[None, :, None] + moves[..., 1]
    cols = torch.arange(start, width, device=x.device)[None, None, :] + moves[..., 0]
    index = torch.arange(height * width, device=x.device).reshape(1, height, width).repeat(n, 1, 1)
    index[:, start:, start:] = rows * width + cols
    index = index.reshape(n, 1, height * width).expand(n, channels, height * width)
    return x.reshape(n, channels, height * width).gather(2, index).reshape(x.shape)


class Motion(NamedTuple):
    radius: float  # ImageMagick's motion-blur radius: the kernel has 2 * ceil(radius) + 1 taps
    sigma: float  # of the one-sided Gaussian along the line


@corruption(
    "motion_blur",
    BENCHMARK,
    random=True,
    # the angle of each image is uniform in [-45, 45) degrees
    severities=(
        #   radius, sigma
        Motion(6, 1),
        Motion(6, 1.5),
        Motion(6, 2),
        Motion(8, 2),
        Motion(9, 2.5),
    ),
)
def motion_blur(x: torch.Tensor, p: Motion, draws: Draws) -> torch.Tensor:
    angles = draws.rng.uniform(-45, 45, len(x))
    return motion.blur_along(x, p.radius, p.sigma, angles)


@corruption(
    "zoom_blur",
    BENCHMARK,
    random=False,
    # the image is averaged with its centre zooms by every factor of np.arange(1, stop, 0.01), as
    # in the original: float round-off makes that 7, 12, 16, 21, 26 factors up to 1.06, 1.11,
    # 1.15, 1.20, 1.25, and the values themselves are slightly off (1.2500000000000002), which
    # changes the output size of one zoom; they are kept as the original has them
    severities=(1.06, 1.11, 1.16, 1.21, 1.26),
)
def zoom_blur(x: torch.Tensor, stop: float, draws: Draws) -> torch.Tensor:
    height, width = x.shape[-2:]
    operator = _zoom_blur_operator(stop, width, x.device)
    return (x.reshape(-1, height * width) @ operator).reshape(x.shape)


@functools.cache
def _zoom_blur_operator(stop: float, size: int, device: torch.device) -> torch.Tensor:
    """The transposed zoom-blur matrix as float32 on ``device``, built once: 4 MB, every chunk."""
    factors = tuple(np.arange(1.0, stop, 0.01).tolist())
    matrix = resample.zoom_blur_matrix(factors, size)
    return torch.tensor(matrix.T, dtype=torch.float32, device=device)
