"""CIFAR-10-C-bar's warps and blurs: circular motion blur, pinch and twirl, ripple and transverse
chromatic aberration.

Formulas and constants from facebookresearch/augmentation-corruption, imagenet_c_bar/corrupt.py
(classes CircularMotionBlur, PinchAndTwirl, Ripple, TransverseChromaticAbberation) and its
utils/image.py (bilinear_interpolation); see cbar.py for what is shared. Ripple and pinch and twirl
are bilinear warps (cbar.bilinear); the other two resample with scipy.ndimage's cubic splines,
here as matrices (splines.py).
"""

from __future__ import annotations

import functools

import numpy as np
import torch

from robustcifar.corruptions import splines
from robustcifar.corruptions.cbar import SIZE, bilinear, scaled
from robustcifar.corruptions.registry import CBAR, corruption
from robustcifar.corruptions.seeding import Draws

# ---------------------------------------------------------------------------------------------
# Circular motion blur

ROTATIONS = 21  # copies of the image, rotated evenly over [-amount, amount] degrees


@corruption(
    "circular_motion_blur",
    CBAR,
    random=False,
    # severity s: the mean of 21 copies rotated by t * 1.5 s degrees, t evenly in [-1, 1],
    # weighted exp(-2 t^2): up to 4.2, 5.4, 6.6, 7.8, 9 degrees either way
    severities=(2.8, 3.6, 4.4, 5.2, 6.0),
)
def circular_motion_blur(x: torch.Tensor, severity: float, draws: Draws) -> torch.Tensor:
    operator = _circular_blur_operator(scaled(severity, 15), x.device)
    return (x.reshape(-1, SIZE * SIZE) @ operator).reshape(x.shape)


def circular_blur_matrix(amount: float, size: int = SIZE) -> np.ndarray:
    """(size^2, size^2) float64 matrix of the blur on a flattened channel.

    Each copy is scipy.ndimage.rotate(image, angle, reshape=False) with its defaults (cubic
    spline with prefilter, black outside): corners that rotate out of the image darken.
    """
    positions = 2 * np.arange(ROTATIONS) / (ROTATIONS - 1) - 1
    weights = np.exp(-2 * positions**2)
    total = sum(w * splines.rotation_sampling(p * amount, size) for p, w in zip(positions, weights))
    return splines.prefiltered(total / weights.sum(), size)


@functools.cache
def _circular_blur_operator(amount: float, device: torch.device) -> torch.Tensor:
    """The transposed blur matrix as float32 on ``device``, built once (4 MB, about 0.3 s)."""
    return torch.tensor(circular_blur_matrix(amount).T, dtype=torch.float32, device=device)


# ---------------------------------------------------------------------------------------------
# Pinch and twirl

BLOCKS = 3  # the original's num_per_axis for CIFAR: a 3 x 3 grid of 10-pixel blocks


@corruption(
    "pinch_and_twirl",
    CBAR,
    random=True,
    # severity s: in the disc of radius 5 inside each of 3 x 3 blocks of 10 pixels, the image is
    # pinched by the exponent 0.04 s + 0.1 and twirled by s * 9 degrees at the centre (fading
    # to 0 at the rim), clockwise or not at random per block: 49.5, 54, 58.5, 76.5, 90 degrees
    severities=(5.5, 6.0, 6.5, 8.5, 10.0),
)
def pinch_and_twirl(x: torch.Tensor, severity: float, draws: Draws) -> torch.Tensor:
    signs = draws.rng.choice([1, -1], size=(len(x), BLOCKS, BLOCKS))
    angles = signs * scaled(severity, np.pi / 2)
    return pinch_and_twirl_with(x, angles, scaled(severity, 0.4) + 0.1)


def pinch_and_twirl_with(x: torch.Tensor, angles: np.ndarray, amount: float) -> torch.Tensor:
    """Warp with twirl angles (n, 3, 3) (radians, indexed [block column, block row] as in the
    original, each +-the same magnitude) and pinch exponent ``amount``.

    A pixel at offset (dy, dx) from its block's centre, at distance r < 5 (and r > 0), reads the
    image at centre + R(a) (dy, dx) * sin(pi r / 10)^-amount, with a = angle (1 - r / 5)^2 and R
    the rotation [[cos, -sin], [sin, cos]] acting on (row, col). Pixels outside the discs, and
    rows and columns 30 and 31 (outside the blocks), stay. The original warps block after block
    reading the partly warped image, but a block reads only its own disc, which the warps of the
    blocks before it have not touched: one warp of the clean image gives the same result.
    """
    n = len(x)
    magnitude = float(np.abs(angles).max()) if angles.size else 0.0
    turns = torch.as_tensor(angles < 0, device=x.device).long()  # (n, column, row): 1 = negative
    # (2, 2, 10, 10): [positive, negative angle][row, col] sampling offsets within a block
    table = torch.tensor(_pinch_block(magnitude, amount), dtype=x.dtype, device=x.device)
    block = SIZE // BLOCKS
    inner = BLOCKS * block
    picked = table[turns]  # (n, column, row, 2, 10, 10)
    start = torch.arange(BLOCKS, dtype=x.dtype, device=x.device) * block
    rows = picked[:, :, :, 0] + start[None, None, :, None, None]  # + the block's first row
    cols = picked[:, :, :, 1] + start[None, :, None, None, None]
    # (n, column, row, a, b) -> (n, row * 10 + a, column * 10 + b)
    rows = rows.permute(0, 2, 3, 1, 4).reshape(n, inner, inner)
    cols = cols.permute(0, 2, 3, 1, 4).reshape(n, inner, inner)
    axis = torch.arange(SIZE, dtype=x.dtype, device=x.device)
    full_rows = axis[:, None].expand(n, SIZE, SIZE).clone()
    full_cols = axis[None, :].expand(n, SIZE, SIZE).clone()
    full_rows[:, :inner, :inner] = rows
    full_cols[:, :inner, :inner] = cols
    return bilinear(x, full_rows, full_cols)


@functools.cache
def _pinch_block(angle: float, amount: float) -> np.ndarray:
    """(2, 2, 10, 10) float64: for the angle +``angle`` and -``angle``, the row and column each
    pixel of a 10 x 10 block reads, relative to the block's top left corner."""
    block = SIZE // BLOCKS
    radius = block / 2
    local = np.arange(block) - radius  # -5 .. 4: offsets from the block's centre
    dy, dx = np.meshgrid(local, local, indexing="ij")
    distance = np.hypot(dy, dx)
    inside = (distance <= radius) & (np.round(distance, 3) != 0.0)
    d = distance / radius
    with np.errstate(divide="ignore"):
        stretch = np.where(inside, np.sin(np.pi * 0.5 * d) ** (-amount), 1.0)
    sy, sx = dy * stretch, dx * stretch
    table = np.empty((2, 2, block, block))
    for k, signed in enumerate((angle, -angle)):
        a = signed * (1 - d) ** 2
        table[k, 0] = np.where(inside, radius + sy * np.cos(a) - sx * np.sin(a), radius + dy)
        table[k, 1] = np.where(inside, radius + sy * np.sin(a) + sx * np.cos(a), radius + dx)
    table.flags.writeable = False
    return table


# ---------------------------------------------------------------------------------------------
# Ripple


@corruption(
    "ripple",
    CBAR,
    random=True,
    # severity s: each row and column reads the image A sin(2 pi p / wavelength + phase) pixels
    # further, A = s / 400 * 32 pixels (1.76, 1.92, 2.08, 2.4, 2.56), the wavelengths uniform in
    # 3.2-9.6 pixels and the phases uniform, drawn for the two axes separately
    severities=(5.5, 6.0, 6.5, 7.5, 8.0),
)
def ripple(x: torch.Tensor, severity: float, draws: Draws) -> torch.Tensor:
    n = len(x)
    wavelengths = draws.rng.uniform(0.1, 0.3, (n, 2)) * SIZE
    phases = draws.rng.uniform(0, 2 * np.pi, (n, 2))
    return ripple_with(x, scaled(severity, 0.025) * SIZE, wavelengths, phases)


def ripple_with(
    x: torch.Tensor, amplitude: float, wavelengths: np.ndarray, phases: np.ndarray
) -> torch.Tensor:
    """Warp by (n, 2) (row, col) wavelengths and phases: p -> p + A sin(2 pi p / w + phase)."""
    n = len(x)
    p = np.arange(SIZE, dtype=np.float64)
    shifted = p + amplitude * np.sin(2 * np.pi * p / wavelengths[..., None] + phases[..., None])
    shifted = torch.as_tensor(shifted, dtype=x.dtype, device=x.device)  # (n, 2, 32)
    rows = shifted[:, 0, :, None].expand(n, SIZE, SIZE)
    cols = shifted[:, 1, None, :].expand(n, SIZE, SIZE)
    return bilinear(x, rows, cols)


# ---------------------------------------------------------------------------------------------
# Transverse chromatic aberration


@corruption(
    "transverse_chromatic_abberation",
    CBAR,
    random=True,
    # severity s: the channels are zoomed about the centre by 1, 1 + s / 40 and 1 + s / 20, in a
    # random order per image (largest zoom 1.05, 1.1, 1.25, 1.45, 1.5), each with scipy's cubic
    # B-spline without its prefilter, which also smooths every channel a little
    severities=(1.0, 2.0, 5.0, 9.0, 10.0),
)
def transverse_chromatic_abberation(x: torch.Tensor, severity: float, draws: Draws) -> torch.Tensor:
    order = np.argsort(draws.rng.uniform(size=(len(x), 3)), axis=1)  # a permutation per image
    return chromatic_with(x, severity, order)


def chromatic_with(x: torch.Tensor, severity: float, order: np.ndarray) -> torch.Tensor:
    """Channel c of image i zoomed by the scale scales[order[i, c]] of (1, 1 + s/2, 1 + s),
    s = severity / 20 (the original's scales[np.random.permutation(3)])."""
    matrices = _zoom_operators(float(severity), x.device)
    chosen = matrices[torch.as_tensor(order, device=x.device)]  # (n, 3, 32, 32)
    return chosen @ x @ chosen.transpose(-1, -2)


@functools.cache
def _zoom_operators(severity: float, device: torch.device) -> torch.Tensor:
    scale = scaled(severity, 0.5)
    scales = (1.0, 1.0 + scale / 2, 1.0 + scale)
    stacked = np.stack([splines.zoom_crop_matrix(SIZE, s) for s in scales])
    return torch.tensor(stacked, dtype=torch.float32, device=device)
