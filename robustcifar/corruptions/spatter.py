"""Spatter: water drops (severities 1-3) or mud (4-5) from a thresholded, smoothed noise layer.

Parameters and steps from hendrycks/robustness, ImageNet-C/create_c/make_cifar_c.py. The water
drops are shaded with a chain of OpenCV calls (edges, distance to them, histogram equalisation,
an emboss kernel), reproduced with the torch ports in opencv_ports.py.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import torch

from robustcifar.corruptions import filters
from robustcifar.corruptions.opencv_ports import canny, distance_transform, equalize_histogram
from robustcifar.corruptions.registry import EXTRA, corruption
from robustcifar.corruptions.seeding import Draws

WATER = (175 / 255, 238 / 255, 238 / 255)  # pale turquoise, RGB
MUD = (63 / 255, 42 / 255, 20 / 255)  # brown, RGB
EMBOSS = np.array([[-2, -1, 0], [-1, 1, 1], [0, 1, 2]])  # the original's shading kernel
BOX = np.ones((3, 3))


class Spatter(NamedTuple):
    mean: float  # of the Gaussian noise layer the liquid comes from
    std: float
    blur: float  # sigma of the Gaussian smoothing of the layer
    threshold: float  # smoothed values below it stay dry
    intensity: float  # water: opacity of the drops; mud: sigma of the smoothing of the mud mask
    mud: bool  # False: water drops, True: mud


@corruption(
    "spatter",
    EXTRA,
    random=True,
    severities=(
        #      mean, std, blur, threshold, intensity, mud
        Spatter(0.62, 0.1, 0.7, 0.7, 0.5, False),
        Spatter(0.65, 0.1, 0.8, 0.7, 0.5, False),
        Spatter(0.65, 0.3, 1.0, 0.69, 0.5, False),
        Spatter(0.65, 0.1, 0.7, 0.69, 0.6, True),
        Spatter(0.65, 0.1, 0.5, 0.68, 0.6, True),
    ),
)
def spatter(x: torch.Tensor, p: Spatter, draws: Draws) -> torch.Tensor:
    n, _, height, width = x.shape
    liquid = draws.normal((n, 1, height, width), mean=p.mean, std=p.std)
    liquid = filters.gaussian_filter(liquid, p.blur, "nearest")
    liquid = torch.where(liquid < p.threshold, 0.0, liquid)
    return _mud(x, liquid, p) if p.mud else _water(x, liquid, p)


def _water(x: torch.Tensor, liquid: torch.Tensor, p: Spatter) -> torch.Tensor:
    shading = water_shading(liquid[:, 0])[:, None]
    drops = liquid * shading
    peak = drops.amax(dim=(2, 3), keepdim=True)
    # The original divides by the peak unguarded: an image without drops would become NaN (black).
    drops = torch.where(peak > 0, drops / peak.clamp_min(1e-12), 0.0)
    color = torch.tensor(WATER, dtype=x.dtype, device=x.device)[:, None, None]
    return x + p.intensity * drops * color


def water_shading(liquid: torch.Tensor) -> torch.Tensor:
    """The original's shading of water drops, (n, H, W) float liquid layer -> (n, H, W) float32
    holding 8-bit values: each step as the OpenCV call it replaces, with its integer rounding."""
    # (liquid * 255).astype(np.uint8); the original's values above 255 would wrap, clipped here.
    layer = (liquid * 255).clamp(0, 255).floor()
    # 255 - cv2.Canny(layer, 50, 150), then cv2.distanceTransform(.., DIST_L2, 5): the distance
    # from every pixel to the nearest edge; cv2.threshold(.., 20, 20, THRESH_TRUNC) caps it at 20.
    dist = distance_transform(canny(layer, 50, 150)).clamp(max=20.0)
    # cv2.blur(dist, (3, 3)) in float32 (sums in float64), then .astype(np.uint8): truncation.
    dist = (filters.filter2d(dist.double(), BOX, "mirror") * (1.0 / 9.0)).float().floor()
    dist = equalize_histogram(dist)
    # cv2.filter2D(dist, cv2.CV_8U, EMBOSS): integer sums saturated to 0-255.
    dist = filters.filter2d(dist.long(), EMBOSS, "mirror").clamp(0, 255)
    # cv2.blur(dist, (3, 3)) on uint8 rounds the mean to nearest (9 is odd: no ties).
    dist = torch.div(
        filters.filter2d(dist, BOX.astype(np.int64), "mirror") + 4, 9, rounding_mode="floor"
    )
    return dist.float()


def _mud(x: torch.Tensor, liquid: torch.Tensor, p: Spatter) -> torch.Tensor:
    mask = filters.gaussian_filter((liquid > p.threshold).to(x.dtype), p.intensity, "nearest")
    mask = torch.where(mask < 0.8, 0.0, mask)
    color = torch.tensor(MUD, dtype=x.dtype, device=x.device)[:, None, None]
    return x * (1.0 - mask) + color * mask
