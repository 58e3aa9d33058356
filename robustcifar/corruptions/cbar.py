"""CIFAR-10-C-bar: the 10 corruptions of Mintun, Kirillov and Xie (NeurIPS 2021), batched.

A re-implementation of facebookresearch/augmentation-corruption, folder imagenet_c_bar/ (MIT
licence; read at commit ba4d5a5e9132fe98fcd4be1ac90abedbbb188794): each corruption there is a
Transform class whose ``sample_parameters`` draws the random parameters of one image and whose
``transform`` applies them, pixel by pixel in Python (about 40 ms per 32x32 image). Here the same
formulas work on whole batches of float (n, 3, 32, 32) tensors in [0, 1]: cbar_noise.py holds the
noise, mask and overlay corruptions, cbar_geometric.py the warps and blurs, splines.py scipy's cubic
spline resampling that two of them use. The facts are in the project spec ``cifar10c-bar.md``.

Severities: the original passes a float on a 0-10 scale to every Transform (``severity``, with
``im_size=32`` for CIFAR), and its cifar10_c_bar.csv lists the five used per corruption. Those five
values are the severity tables of the registry here, and each function derives its parameters from
them with the original's formulas: ``scaled(s, m) = s * m / 10`` is its float_parameter. The
original works on 0-255 and truncates to uint8 at the end; here values are in [0, 1] and rounded
once, in api.py.

Random numbers come from the chunk's ``Draws`` (the original drew from numpy's unseeded global
generator, and its make_cifar10_c_bar.py ignores ``--seed``), one set of parameters per image.
Where the original seeds a second generator per image (ray lengths, checkerboard cells, lines), the
same numbers are drawn from the chunk's generator instead: the same distribution, not the same
values.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

SIZE = 32  # the original's im_size for CIFAR


def scaled(severity: float, maximum: float) -> float:
    """The original's float_parameter: ``severity`` on its 0-10 scale, as a fraction of maximum."""
    return float(severity) * maximum / 10.0


def bilinear(x: torch.Tensor, rows: torch.Tensor, cols: torch.Tensor) -> torch.Tensor:
    """``x`` (n, c, H, W) sampled at float (n, H, W) coordinates ``rows``, ``cols``.

    The original's bilinear_interpolation: pixel centres at integer coordinates, and each of the
    four neighbours that lies outside the image counts as black - grid_sample with
    align_corners=True and zero padding.
    """
    height, width = x.shape[-2:]
    grid = torch.stack((cols * (2.0 / (width - 1)) - 1.0, rows * (2.0 / (height - 1)) - 1.0), -1)
    return F.grid_sample(
        x, grid.to(x.dtype), mode="bilinear", padding_mode="zeros", align_corners=True
    )
