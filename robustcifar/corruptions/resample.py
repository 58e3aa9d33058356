"""Resizing as matrices: Pillow's BOX resize and the original's centre zoom (``clipped_zoom``).

Both are separable linear maps, so a resize of an (..., H, W) tensor is ``R @ x @ R.T`` with a
small matrix R built here once (filters.separable applies it), on any device.
"""

from __future__ import annotations

import functools
import math

import numpy as np


def pil_box_matrix(in_size: int, out_size: int) -> np.ndarray:
    """(out_size, in_size) matrix of PIL.Image.resize(..., Image.BOX) along one axis.

    Ported from Pillow's precompute_coeffs (src/libImaging/Resample.c): output sample i covers the
    input interval centred at (i + 0.5) * scale, scale = in/out, half-width max(scale, 1) / 2, and
    averages the input samples whose centres fall in it. Pillow rounds to uint8 after each axis;
    here the values stay float.
    """
    scale = in_size / out_size
    filter_scale = max(scale, 1.0)
    support = 0.5 * filter_scale
    matrix = np.zeros((out_size, in_size))
    for i in range(out_size):
        center = (i + 0.5) * scale
        first = max(int(center - support + 0.5), 0)
        stop = min(int(center + support + 0.5), in_size)
        for j in range(first, stop):
            offset = (j - center + 0.5) / filter_scale
            matrix[i, j] = 1.0 if -0.5 < offset <= 0.5 else 0.0  # Pillow's box_filter
        matrix[i] /= matrix[i].sum()
    return matrix


def clipped_zoom_matrix(size: int, factor: float) -> np.ndarray:
    """(size, size) matrix of the original's clipped_zoom along one axis (make_cifar_c.py).

    That function takes the centred ceil(size / factor) pixels, enlarges them with
    scipy.ndimage.zoom(order=1) - output length round(crop * factor), samples spaced so that the
    first and last pixels of crop and output coincide - and trims the result back to ``size``
    centred pixels. Each output pixel is a linear interpolation of two neighbours.
    """
    crop = math.ceil(size / factor)
    top = (size - crop) // 2
    zoomed = round(crop * factor)  # Python rounding, as scipy.ndimage.zoom computes its shape
    trim = (zoomed - size) // 2
    step = (crop - 1) / (zoomed - 1) if zoomed > 1 else 0.0
    matrix = np.zeros((size, size))
    for i in range(size):
        position = min((i + trim) * step, crop - 1)
        left = int(np.floor(position))
        right = min(left + 1, crop - 1)
        weight = position - left
        matrix[i, top + left] += 1 - weight
        matrix[i, top + right] += weight
    return matrix


@functools.cache
def zoom_blur_matrix(factors: tuple[float, ...], size: int = 32) -> np.ndarray:
    """(size^2, size^2) matrix of zoom blur on a flattened image channel: the mean of the image
    and of its clipped zooms by every factor (the original adds the image itself to the zooms)."""
    total = np.eye(size * size)
    for factor in factors:
        one_axis = clipped_zoom_matrix(size, factor)
        total += np.kron(one_axis, one_axis)
    total /= len(factors) + 1
    total.flags.writeable = False  # shared by the cache
    return total
