"""Weather corruptions: snow, frost and fog.

Parameters from hendrycks/robustness, ImageNet-C/create_c/make_cifar_c.py (the CIFAR-10 script).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import torch

from robustcifar.corruptions import color, filters, frost_textures, motion, resample
from robustcifar.corruptions.registry import BENCHMARK, corruption
from robustcifar.corruptions.seeding import Draws


class Snow(NamedTuple):
    mean: float  # of the Gaussian noise layer the flakes come from
    std: float
    zoom: float  # the layer's centre is enlarged by this (bigger flakes)
    threshold: float  # layer values below it become 0 (fewer flakes)
    radius: float  # ImageMagick motion blur of the layer: radius
    sigma: float  # ... and sigma
    blend: float  # weight of the image against its whitened copy


@corruption(
    "snow",
    BENCHMARK,
    random=True,
    # the flakes fall at an angle uniform in [-135, -45) degrees (ImageMagick's convention)
    severities=(
        # mean, std, zoom, threshold, radius, sigma, blend
        Snow(0.1, 0.2, 1.0, 0.6, 8, 3, 0.95),
        Snow(0.1, 0.2, 1.0, 0.5, 10, 4, 0.9),
        Snow(0.15, 0.3, 1.75, 0.55, 10, 4, 0.9),
        Snow(0.25, 0.3, 2.25, 0.6, 12, 6, 0.85),
        Snow(0.3, 0.3, 1.25, 0.65, 14, 12, 0.8),
    ),
)
def snow(x: torch.Tensor, p: Snow, draws: Draws) -> torch.Tensor:
    n, _, height, width = x.shape
    layer = draws.normal((n, 1, height, width), mean=p.mean, std=p.std)
    layer = filters.separable(layer, resample.clipped_zoom_matrix(height, p.zoom))
    # The original then stores the layer as 8-bit (truncating) for ImageMagick; kept float here.
    layer = torch.where(layer < p.threshold, 0.0, layer).clamp(0.0, 1.0)
    layer = motion.blur_along(layer, p.radius, p.sigma, draws.rng.uniform(-135, -45, n))
    whitened = torch.maximum(x, color.grey(x) * 1.5 + 0.5)
    x = p.blend * x + (1.0 - p.blend) * whitened
    return x + layer + layer.flip(-2, -1)  # the layer and its 180-degree rotation


class Frost(NamedTuple):
    image: float  # weight of the image
    frost: float  # weight of the frost texture


@corruption(
    "frost",
    BENCHMARK,
    random=True,
    # each image gets one of the five textures (uniformly) and a uniform 32x32 crop of it
    severities=(
        #   image, frost
        Frost(1.0, 0.2),
        Frost(1.0, 0.3),
        Frost(0.9, 0.4),
        Frost(0.85, 0.4),
        Frost(0.75, 0.45),
    ),
)
def frost(x: torch.Tensor, p: Frost, draws: Draws) -> torch.Tensor:
    textures, heights, widths = frost_textures.small_textures()
    n, _, height, width = x.shape
    which = draws.rng.integers(0, len(textures), n)
    top = draws.rng.integers(0, heights[which] - height)  # as the original's randint bounds
    left = draws.rng.integers(0, widths[which] - width)
    rows = top[:, None, None] + np.arange(height)[None, :, None]
    cols = left[:, None, None] + np.arange(width)[None, None, :]
    crops = textures[which[:, None, None], rows, cols]  # (n, H, W, 3) uint8, gathered at once
    crops = draws.tensor(crops).permute(0, 3, 1, 2) / 255.0
    return p.image * x + p.frost * crops


class Fog(NamedTuple):
    thickness: float  # weight of the fractal added to the image
    decay: float  # how fast the fractal's detail fades with scale (lower: more fine detail)


@corruption(
    "fog",
    BENCHMARK,
    random=True,
    severities=(
        # thickness, decay
        Fog(0.2, 3.0),
        Fog(0.5, 3.0),
        Fog(0.75, 2.5),
        Fog(1.0, 2.0),
        Fog(1.5, 1.75),
    ),
)
def fog(x: torch.Tensor, p: Fog, draws: Draws) -> torch.Tensor:
    fractal = draws.tensor(plasma_fractal(draws.rng, len(x), p.decay, x.shape[-1]))[:, None]
    brightest = x.amax(dim=(1, 2, 3), keepdim=True)  # over the whole image, all channels
    return (x + p.thickness * fractal) * brightest / (brightest + p.thickness)


def plasma_fractal(rng: np.random.Generator, count: int, decay: float, size: int = 32):
    """(count, size, size) plasma fractals in [0, 1] by the diamond-square algorithm.

    The original's plasma_fractal (a modification of FLHerne/mapgen's diamondsquare.py) for a
    batch: the grid wraps around; at every scale each square's centre, then each edge midpoint,
    becomes the mean of its four neighbours plus uniform noise of amplitude wibble^2, with wibble
    starting at 100 and divided by ``decay`` per halving of the step; each map is then rescaled
    to [0, 1]. Float64 on the CPU: it is part of drawing the random numbers.
    """
    field = np.zeros((count, size, size))
    step, wibble = size, 100.0
    while step >= 2:
        half = step // 2
        corners = field[:, ::step, ::step]
        around = corners + np.roll(corners, -1, axis=1)
        around = around + np.roll(around, -1, axis=2)
        field[:, half::step, half::step] = _jitter(around, wibble, rng)
        centres = field[:, half::step, half::step]
        # Midpoints of the top edges: centres below and above, corners left and right.
        around = centres + np.roll(centres, 1, axis=1) + corners + np.roll(corners, -1, axis=2)
        field[:, ::step, half::step] = _jitter(around, wibble, rng)
        # Midpoints of the left edges: centres right and left, corners above and below.
        around = centres + np.roll(centres, 1, axis=2) + corners + np.roll(corners, -1, axis=1)
        field[:, half::step, ::step] = _jitter(around, wibble, rng)
        step, wibble = half, wibble / decay
    field -= field.min(axis=(1, 2), keepdims=True)
    return field / field.max(axis=(1, 2), keepdims=True)


def _jitter(total: np.ndarray, wibble: float, rng: np.random.Generator) -> np.ndarray:
    return total / 4 + wibble * rng.uniform(-wibble, wibble, total.shape)
