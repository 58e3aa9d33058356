"""Blur corruptions: Gaussian, defocus (disk), glass, motion and zoom blur.

Parameters from hendrycks/robustness, ImageNet-C/create_c/make_cifar_c.py (the CIFAR-10 script).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import torch

from robustcifar.corruptions import filters
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
