"""Linear filters on (..., H, W) tensors with the border rules of the libraries the original used.

A separable filter is applied as two small matrix products, ``M @ x @ M.T``, with the border rule
folded into the H x H matrix ``M``. For 32-pixel images that is as fast as a convolution, works on
any device, and stays exact float32 arithmetic on CUDA (cuDNN convolutions may use TF32 there,
which would make CPU and CUDA results differ by more than rounding). Non-separable kernels (a few
taps) are summed from shifted views of a border-padded copy.

Border rules, named as in scipy.ndimage:
  nearest  aaa|abcd|ddd  scipy/skimage 'nearest', OpenCV BORDER_REPLICATE, ImageMagick 'edge'
  reflect  cba|abcd|dcb  scipy/skimage 'reflect' (the edge sample is repeated)
  mirror   dcb|abcd|cba  scipy 'mirror', OpenCV BORDER_REFLECT_101 (its default), torch 'reflect'
"""

from __future__ import annotations

import functools

import numpy as np
import torch

BORDER_MODES = ("nearest", "reflect", "mirror")


def border_index(size: int, pad: int, mode: str) -> np.ndarray:
    """For a signal of ``size`` samples padded by ``pad`` on both sides: the source of each sample."""
    index = np.arange(-pad, size + pad)
    if mode == "nearest":
        return np.clip(index, 0, size - 1)
    if mode == "reflect":
        period = 2 * size
        index = np.mod(index, period)
        return np.where(index < size, index, period - 1 - index)
    if mode == "mirror":
        period = max(2 * size - 2, 1)
        index = np.mod(index, period)
        return np.where(index < size, index, period - index)
    raise ValueError(f"unknown border mode {mode!r}; use one of {BORDER_MODES}")


def gaussian_kernel(sigma: float, truncate: float = 4.0) -> np.ndarray:
    """scipy.ndimage's 1-D Gaussian (which skimage.filters.gaussian uses): radius int(truncate*sigma
    + 0.5), weights exp(-x^2 / 2 sigma^2) normalised to sum 1. A zero sigma is the identity."""
    if sigma <= 1e-15:
        return np.ones(1)
    radius = int(truncate * sigma + 0.5)
    x = np.arange(-radius, radius + 1)
    weights = np.exp(-0.5 * x**2 / sigma**2)
    return weights / weights.sum()


def filter_matrix(kernel: np.ndarray, size: int, mode: str) -> np.ndarray:
    """The size x size matrix M with (M @ v)[i] = sum_t kernel[t] * v[i + t - radius] (correlation),
    the samples outside the signal taken by the border rule."""
    radius = len(kernel) // 2
    source = border_index(size, radius, mode)
    matrix = np.zeros((size, size))
    for i in range(size):
        np.add.at(matrix[i], source[i : i + len(kernel)], kernel)
    return matrix


@functools.cache
def gaussian_matrix(sigma: float, mode: str, truncate: float = 4.0, size: int = 32) -> np.ndarray:
    matrix = filter_matrix(gaussian_kernel(sigma, truncate), size, mode)
    matrix.flags.writeable = False  # shared by the cache
    return matrix


def separable(x: torch.Tensor, rows: np.ndarray, cols: np.ndarray | None = None) -> torch.Tensor:
    """``rows @ x @ cols.T`` over the last two axes; ``cols`` defaults to ``rows``."""
    row_matrix = torch.tensor(rows, dtype=x.dtype, device=x.device)
    col_matrix = row_matrix if cols is None else torch.tensor(cols, dtype=x.dtype, device=x.device)
    return row_matrix @ x @ col_matrix.T


def gaussian_filter(
    x: torch.Tensor, sigma: float, mode: str = "nearest", truncate: float = 4.0
) -> torch.Tensor:
    """Per-channel Gaussian blur as skimage.filters.gaussian(..., channel_axis=-1) does it."""
    return separable(x, gaussian_matrix(float(sigma), mode, truncate, x.shape[-1]))


def pad(x: torch.Tensor, radius: int, mode: str) -> torch.Tensor:
    """``x`` padded by ``radius`` on all four sides with the border rule ``mode``."""
    height, width = x.shape[-2:]
    rows = torch.as_tensor(border_index(height, radius, mode), device=x.device)
    cols = torch.as_tensor(border_index(width, radius, mode), device=x.device)
    return x.index_select(-2, rows).index_select(-1, cols)


def filter2d(x: torch.Tensor, kernel: np.ndarray, mode: str) -> torch.Tensor:
    """Correlation with a small odd-sized square kernel (OpenCV filter2D's convention), summed
    from shifted views of a padded copy; zero taps are skipped. Integer tensors stay integer."""
    size = kernel.shape[0]
    height, width = x.shape[-2:]
    padded = pad(x, size // 2, mode)
    out = torch.zeros_like(x)
    for (i, j), weight in np.ndenumerate(kernel):
        if weight != 0:
            out.add_(padded[..., i : i + height, j : j + width], alpha=weight.item())
    return out
