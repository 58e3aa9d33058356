"""ImageMagick's motion blur (MagickMotionBlurImage), which the original called through Wand.

Ported from ImageMagick's MotionBlurImage (MagickCore/effect.c), as the spec describes it: a
one-sided line kernel of width = 2 * ceil(radius) + 1 taps with weights exp(-i^2 / 2 sigma^2),
i = 0 .. width - 1, normalised; tap i reads the pixel at the offset (ceil(i cos a - 0.5),
ceil(i sin a - 0.5)) in (column, row) for the angle a, and pixels outside the image repeat the
edge (ImageMagick's default virtual-pixel method). The original round-trips through 8-bit PNG;
here values stay float until the final rounding, which agrees within about one grey level.
"""

from __future__ import annotations

import math

import numpy as np
import torch


def motion_kernel(radius: float, sigma: float, angles: np.ndarray):
    """Weights (taps,) and integer (column, row) offsets (n, taps) for one angle per image, in
    degrees. Computed in float64 on the CPU so that every device uses the same offsets."""
    width = 2 * math.ceil(radius) + 1
    taps = np.arange(width)
    weights = np.exp(-(taps.astype(np.float64) ** 2) / (2.0 * sigma * sigma))
    weights /= weights.sum()
    radians = np.deg2rad(np.asarray(angles, dtype=np.float64))[:, None]
    # As in effect.c: point = width * (sin, cos); offset = ceil(i * component / |point| - 0.5).
    point_x, point_y = width * np.sin(radians), width * np.cos(radians)
    length = np.hypot(point_x, point_y)
    columns = np.ceil(taps * point_y / length - 0.5).astype(np.int64)
    rows = np.ceil(taps * point_x / length - 0.5).astype(np.int64)
    return weights, columns, rows


def blur_along(x: torch.Tensor, radius: float, sigma: float, angles: np.ndarray) -> torch.Tensor:
    """Motion-blur each image of (n, c, H, W) along its own angle in degrees: at 0 the kernel
    reads towards +column, positive angles turn it towards +row (clockwise on screen)."""
    n, channels, height, width = x.shape
    weights, columns, rows = motion_kernel(radius, sigma, angles)
    columns = torch.as_tensor(columns, device=x.device)
    rows = torch.as_tensor(rows, device=x.device)
    row_grid = torch.arange(height, device=x.device)
    col_grid = torch.arange(width, device=x.device)
    flat = x.reshape(n, channels, height * width)
    out = torch.zeros_like(flat)
    for tap, weight in enumerate(weights):
        # Every tap is a translation of the image with edge clamping: one gather per tap.
        source_rows = (row_grid[None, :] + rows[:, tap, None]).clamp_(0, height - 1)
        source_cols = (col_grid[None, :] + columns[:, tap, None]).clamp_(0, width - 1)
        index = (source_rows[:, :, None] * width + source_cols[:, None, :]).reshape(n, 1, -1)
        out.add_(flat.gather(2, index.expand(n, channels, height * width)), alpha=float(weight))
    return out.reshape(n, channels, height, width)
