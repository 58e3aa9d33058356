"""Elastic transform: a random affine warp, then a smooth random displacement of every pixel.

Parameters and steps from hendrycks/robustness, ImageNet-C/create_c/make_cifar_c.py (itself after
a gist by erniejunior), with the 32-pixel image size multiplied in. Bilinear resampling is done by
torch's grid_sample with the border rules of the original's two calls.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import torch
import torch.nn.functional as F

from robustcifar.corruptions import filters
from robustcifar.corruptions.registry import BENCHMARK, corruption
from robustcifar.corruptions.seeding import Draws


class Elastic(NamedTuple):
    alpha: float  # scale of the displacement field, pixels
    sigma: float  # of the Gaussian that smooths the uniform(-1, 1) displacement noise, pixels
    jitter: float  # each of the three affine control points moves by up to this, pixels


@corruption(
    "elastic_transform",
    BENCHMARK,
    random=True,
    # the original's fractions of the image size (32 px): (0, 0, .08) (.05, .2, .07) (.08, .06,
    # .06) (.1, .04, .05) (.1, .03, .03)
    severities=(
        #      alpha, sigma, jitter
        Elastic(0.0, 0.0, 2.56),
        Elastic(1.6, 6.4, 2.24),
        Elastic(2.56, 1.92, 1.92),
        Elastic(3.2, 1.28, 1.6),
        Elastic(3.2, 0.96, 0.96),
    ),
)
def elastic_transform(x: torch.Tensor, p: Elastic, draws: Draws) -> torch.Tensor:
    n, _, height, width = x.shape
    jitter = draws.rng.uniform(-p.jitter, p.jitter, (n, 3, 2))
    noise = draws.uniform(-1.0, 1.0, (n, 2, height, width))  # column (dx) then row (dy) field
    # skimage.filters.gaussian(mode="reflect", truncate=3) as in the original.
    shifts = filters.gaussian_filter(noise, p.sigma, "reflect", truncate=3.0) * p.alpha
    return elastic_with(x, jitter, shifts)


def elastic_with(x: torch.Tensor, jitter: np.ndarray, shifts: torch.Tensor) -> torch.Tensor:
    """The transform for given control-point jitter (n, 3, 2) in (x, y) and displacements
    (n, 2, H, W) in (column, row)."""
    x = warp_affine(x, inverse_affine(jitter, x.shape[-1]))
    return displace(x, shifts[:, 0], shifts[:, 1])


def inverse_affine(jitter: np.ndarray, size: int) -> np.ndarray:
    """(n, 2, 3) maps from output to input (x, y) of the affine that moves the original's three
    control points by ``jitter`` (cv2.getAffineTransform(pts1, pts1 + jitter), inverted)."""
    centre, half_side = size // 2, size // 3
    # The original's pts1: centre + side, (centre + side, centre - side), centre - side.
    points = np.array(
        [
            [centre + half_side, centre + half_side],
            [centre + half_side, centre - half_side],
            [centre - half_side, centre - half_side],
        ],
        dtype=np.float64,
    )
    moved = points[None] + jitter.astype(np.float32)  # the original jitters in float32
    homogeneous = np.concatenate([moved, np.ones((len(jitter), 3, 1))], axis=2)
    # Solve homogeneous @ M.T = points: M takes each moved point back to where it came from.
    return np.linalg.solve(homogeneous, np.broadcast_to(points, moved.shape)).transpose(0, 2, 1)


def warp_affine(x: torch.Tensor, inverse: np.ndarray) -> torch.Tensor:
    """cv2.warpAffine(x, M, borderMode=BORDER_REFLECT_101) given M's inverse: bilinear, samples
    outside mirrored about the edge pixels. (OpenCV quantises sample positions to 1/32 pixel; these
    are exact.)"""
    height, width = x.shape[-2:]
    matrix = torch.as_tensor(inverse, dtype=x.dtype, device=x.device)
    rows, cols = _pixel_grid(height, width, x)
    source_x = matrix[:, 0, 0, None, None] * cols + matrix[:, 0, 1, None, None] * rows
    source_y = matrix[:, 1, 0, None, None] * cols + matrix[:, 1, 1, None, None] * rows
    source_x = source_x + matrix[:, 0, 2, None, None]
    source_y = source_y + matrix[:, 1, 2, None, None]
    # align_corners=True puts -1 and 1 on the centres of the edge pixels, and "reflection" then
    # mirrors about those centres: OpenCV's reflect-101.
    grid = torch.stack((2 * source_x / (width - 1) - 1, 2 * source_y / (height - 1) - 1), dim=-1)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="reflection", align_corners=True)


def displace(x: torch.Tensor, dx: torch.Tensor, dy: torch.Tensor) -> torch.Tensor:
    """scipy.ndimage.map_coordinates(x, (row + dy, col + dx), order=1, mode="reflect") per channel:
    bilinear, samples outside mirrored about the image border (the edge pixel repeats)."""
    height, width = x.shape[-2:]
    rows, cols = _pixel_grid(height, width, x)
    # align_corners=False puts -1 and 1 on the outer edges of the image, and "reflection" mirrors
    # about them: scipy's half-sample "reflect".
    grid_x = (2 * (cols + dx) + 1) / width - 1
    grid_y = (2 * (rows + dy) + 1) / height - 1
    grid = torch.stack((grid_x, grid_y), dim=-1)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="reflection", align_corners=False)


def _pixel_grid(height: int, width: int, like: torch.Tensor):
    rows = torch.arange(height, dtype=like.dtype, device=like.device)[:, None].expand(height, width)
    cols = torch.arange(width, dtype=like.dtype, device=like.device)[None, :].expand(height, width)
    return rows, cols
