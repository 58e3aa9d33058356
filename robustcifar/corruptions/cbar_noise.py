"""CIFAR-10-C-bar's noise, mask and overlay corruptions: blue noise sample, brownish noise,
checkerboard cutout, sparkles, inverse sparkles and lines.

Formulas and constants from facebookresearch/augmentation-corruption, imagenet_c_bar/corrupt.py
(classes BlueNoiseSample, BrownishNoise, CheckerBoardCutOut, Sparkles, InverseSparkles, Lines) and
the anti-aliased lines of scikit-image's skimage.draw.line_aa that Lines calls; see cbar.py for
what is shared.
"""

from __future__ import annotations

import functools
import math

import numpy as np
import torch

from robustcifar.corruptions.cbar import SIZE, scaled
from robustcifar.corruptions.registry import CBAR, corruption
from robustcifar.corruptions.seeding import Draws

GREY = 128 / 255  # the grey of the cut-out cells and of the lines
MAX_CELLS = 40  # checkerboard cells per side: 4 * 32 // cell size, the size at least 3.2 pixels


# ---------------------------------------------------------------------------------------------
# Noise made in Fourier space


@functools.cache
def spectrum_power(kind: str, device: torch.device, size: int = SIZE) -> torch.Tensor:
    """(size, size) amplitude per frequency, before the shift that puts frequency 0 at [0, 0]:
    distance r from the centre (blue: rises with frequency) or 1 / (r^2 + 1) (brownish)."""
    offsets = np.arange(size) - size / 2
    distance = np.hypot(offsets[:, None], offsets[None, :])
    power = distance if kind == "blue" else 1.0 / (distance**2 + 1.0)
    return torch.tensor(power, dtype=torch.float32, device=device)


def spectral_noise(phases: torch.Tensor, kind: str) -> torch.Tensor:
    """Noise maps (..., size, size) of unit standard deviation from phases (..., size, size / 2).

    As the original's gen_noise: the phases of the right half of the spectrum are the left half's
    turned by 180 degrees (which makes the noise nearly, not exactly, real), amplitudes are
    ``spectrum_power``, the spectrum is rolled so that its centre goes to frequency 0, and the real
    part of the inverse FFT is scaled to standard deviation 1. In float32 (the original: float64).
    """
    size = phases.shape[-2]
    full = torch.cat((phases, phases.flip(-2, -1)), dim=-1)
    power = spectrum_power(kind, phases.device, size)
    spectrum = torch.polar(power.expand_as(full), full)
    spectrum = torch.roll(spectrum, (size // 2, size // 2), dims=(-2, -1))
    noise = torch.fft.ifft2(spectrum).real
    return noise / noise.std(dim=(-2, -1), keepdim=True, correction=0)


def uniform_phases(draws: Draws, shape: tuple[int, ...]) -> torch.Tensor:
    return draws.tensor(draws.rng.uniform(0, 2 * np.pi, shape))


@corruption(
    "blue_noise_sample",
    CBAR,
    random=True,
    # severity s: pixels where a blue-noise map (standard deviation 1) is below 0.3 s - 2.5
    # become black (threshold -2.29, -2.08, -1.87, -1.45, -1.24)
    severities=(0.7, 1.4, 2.1, 3.5, 4.2),
)
def blue_noise_sample(x: torch.Tensor, severity: float, draws: Draws) -> torch.Tensor:
    noise = spectral_noise(uniform_phases(draws, (len(x), SIZE, SIZE // 2)), "blue")
    return blue_noise_sample_with(x, noise, scaled(severity, 3.0) - 2.5)


def blue_noise_sample_with(x: torch.Tensor, noise: torch.Tensor, threshold: float) -> torch.Tensor:
    """Keep the pixels whose noise (n, 32, 32) is above ``threshold``, blacken the others."""
    return x * (noise > threshold)[:, None].to(x.dtype)


@corruption(
    "brownish_noise",
    CBAR,
    random=True,
    # severity s: adds 6.4 s grey levels times a brownish (1 / (f^2 + 1)) noise map of standard
    # deviation 1, one map per channel (16, 25.6, 35.2, 41.6, 44.8 grey levels)
    severities=(2.5, 4.0, 5.5, 6.5, 7.0),
)
def brownish_noise(x: torch.Tensor, severity: float, draws: Draws) -> torch.Tensor:
    noise = spectral_noise(uniform_phases(draws, (len(x), 3, SIZE, SIZE // 2)), "brownish")
    return x + noise.to(x.dtype) * (scaled(severity, 64) / 255)


# ---------------------------------------------------------------------------------------------
# Checkerboard cutout


@corruption(
    "checkerboard_cutout",
    CBAR,
    random=True,
    # severity s: a randomly rotated checkerboard with cells of 3.2-8 pixels; each cell of one
    # colour (half of them) turns grey with probability s / 10 (0.1 .. 0.5)
    severities=(1.0, 2.0, 3.0, 4.0, 5.0),
)
def checkerboard_cutout(x: torch.Tensor, severity: float, draws: Draws) -> torch.Tensor:
    n = len(x)
    angles = draws.rng.uniform(0, 2 * np.pi, n)
    cells = np.maximum(draws.rng.uniform(0.1, 0.25, n) * SIZE, 1.0)
    # The original's grid of int(4 * 32 // cell) x the same (16 to 40) random cells per image; the
    # uniforms of the largest grid are drawn and the image's own size decides which are read.
    uniforms = draws.rng.uniform(size=(n, MAX_CELLS, MAX_CELLS))
    return checkerboard_cutout_with(x, angles, cells, uniforms < scaled(severity, 1.0))


def checkerboard_cutout_with(
    x: torch.Tensor, angles: np.ndarray, cells: np.ndarray, chosen: np.ndarray
) -> torch.Tensor:
    """Grey the chosen cells of a rotated checkerboard.

    Pixel (row y, column x) has board coordinates u = (y cos a + x sin a) / cell and
    v = (x cos a - y sin a) / cell. It is greyed when int(u mod 2) == int(v mod 2) (Python's mod:
    non-negative) and ``chosen[int(u), int(v)]`` is true, with int() truncating towards 0 and a
    negative index counting from the end of the image's grid of int(4 * 32 // cell) cells, as
    numpy indexing does in the original.
    """
    n = len(x)
    grid_size = np.floor_divide(4.0 * SIZE, cells).astype(np.int64)  # Python's float //
    axis = np.arange(SIZE, dtype=np.float64)
    y, x_ = np.meshgrid(axis, axis, indexing="ij")
    cos, sin = np.cos(angles)[:, None, None], np.sin(angles)[:, None, None]
    u = (cos * y + sin * x_) / cells[:, None, None]
    v = (-sin * y + cos * x_) / cells[:, None, None]
    same_colour = np.floor(np.mod(u, 2)) == np.floor(np.mod(v, 2))
    size = grid_size[:, None, None]
    iu, iv = np.trunc(u).astype(np.int64), np.trunc(v).astype(np.int64)
    iu, iv = np.where(iu < 0, iu + size, iu), np.where(iv < 0, iv + size, iv)
    picked = chosen[np.arange(n)[:, None, None], iu, iv]
    grey = torch.as_tensor(same_colour & picked, device=x.device)[:, None]
    return torch.where(grey, torch.full_like(x, GREY), x)


# ---------------------------------------------------------------------------------------------
# Sparkles


def star_weight(
    centres: torch.Tensor,
    lengths: torch.Tensor,
    rays: torch.Tensor,
    exponent: float,
    size: int = SIZE,
) -> torch.Tensor:
    """(..., size, size) weight of stars with ``rays[...]`` rays of ``lengths[..., :rays]``
    pixels about ``centres[...]`` (row, col): the original's sparkle kernel.

    The angle of a pixel about the centre picks a place d between two rays (linear interpolation
    of their lengths L, f = the fraction of the way); the weight is
    clip((1 - (f - 0.5)^2) * (L^2 / (distance^2 + 1e-4)) ** exponent, 0, 1).
    """
    axis = torch.arange(size, dtype=centres.dtype, device=centres.device)
    d_row, d_col = torch.broadcast_tensors(
        axis[:, None] - centres[..., 0, None, None], axis[None, :] - centres[..., 1, None, None]
    )
    count = rays[..., None, None]
    place = (torch.atan2(d_col, d_row) + math.pi) / (2 * math.pi) * count
    ray = place.trunc()
    fraction = place - ray
    ray = ray.long()

    def length_of(index: torch.Tensor) -> torch.Tensor:
        flat = (index % count).flatten(-2)
        return torch.gather(lengths, -1, flat).view(index.shape)

    first = length_of(ray)
    length = first + fraction * (length_of(ray + 1) - first)
    gain = length.square() / (d_row.square() + d_col.square() + 1e-4)
    if exponent != 1.0:
        gain = gain.pow(exponent)
    return (1 - (fraction - 0.5).square()).mul_(gain).clamp_(0.0, 1.0)


MAX_RAYS = 199  # the ray counts are uniform integers in [50, 200)


@corruption(
    "sparkles",
    CBAR,
    random=True,
    # severity s: five white stars at uniform places, 50-199 rays each, of lengths
    # max(1, r + r/4 N(0, 1)) pixels with r = s / 100 * 32 (0.22, 1.12, 1.79, 2.02, 2.24 pixels)
    severities=(0.7, 3.5, 5.6, 6.3, 7.0),
)
def sparkles(x: torch.Tensor, severity: float, draws: Draws) -> torch.Tensor:
    n = len(x)
    centres = draws.rng.uniform(0, SIZE, (n, 5, 2))
    rays = draws.rng.integers(50, 200, (n, 5))
    radius = scaled(severity, 0.1) * SIZE
    normal = draws.rng.standard_normal((n, 5, MAX_RAYS))
    lengths = np.maximum(1.0, radius + 25 / 100.0 * radius * normal)
    return sparkles_with(x, centres, lengths, rays)


def sparkles_with(x: torch.Tensor, centres, lengths, rays) -> torch.Tensor:
    """Blend the stars (n, k) one after the other towards white, x -> x + w (1 - x): after all
    of them 1 - x is multiplied by prod(1 - w)."""
    centres, lengths = (
        torch.as_tensor(v, dtype=x.dtype, device=x.device) for v in (centres, lengths)
    )
    rays = torch.as_tensor(rays, dtype=torch.int64, device=x.device)
    # amount 50 in the original: the gain's exponent is (100 - 50) / 50 = 1
    dark = (1.0 - star_weight(centres, lengths, rays, 1.0)).prod(dim=1)
    return 1.0 - dark[:, None] * (1.0 - x)


@corruption(
    "inverse_sparkles",
    CBAR,
    random=True,
    # severity s: everything but one star of 50-199 rays about 8 pixels long, centred in the
    # middle half of the image, turns white; the star's edge sharpens with the exponent 0.13 s of
    # its gain (the original's amount 100 - 6.5 s): 0.13, 0.195, 0.325, 0.585, 0.65
    severities=(1.0, 1.5, 2.5, 4.5, 5.0),
)
def inverse_sparkles(x: torch.Tensor, severity: float, draws: Draws) -> torch.Tensor:
    n = len(x)
    centres = draws.rng.uniform(0.25, 0.75, (n, 2)) * SIZE
    rays = draws.rng.integers(50, 200, n)
    radius = 0.25 * SIZE
    lengths = radius + 25 / 100.0 * radius * draws.rng.standard_normal((n, MAX_RAYS))
    exponent = (100 - (100 - scaled(severity, 65))) / 50.0
    return inverse_sparkles_with(x, centres, lengths, rays, exponent)


def inverse_sparkles_with(x: torch.Tensor, centres, lengths, rays, exponent: float) -> torch.Tensor:
    """White where the star's weight is 0, the image where it is 1: 1 + w (x - 1)."""
    centres, lengths = (
        torch.as_tensor(v, dtype=x.dtype, device=x.device) for v in (centres, lengths)
    )
    rays = torch.as_tensor(rays, dtype=torch.int64, device=x.device)
    weight = star_weight(centres, lengths, rays, exponent)
    return 1.0 + weight[:, None] * (x - 1.0)


# ---------------------------------------------------------------------------------------------
# Lines


def antialiased_lines(
    r0: np.ndarray, c0: np.ndarray, r1: np.ndarray, c1: np.ndarray, size: int = SIZE
) -> np.ndarray:
    """(m, size, size) coverage of m anti-aliased lines from (r0, c0) to (r1, c1), integer ends.

    skimage.draw.line_aa (Zingl's algorithm, "A rasterizing algorithm for drawing curves", 2012)
    run for all lines at once: each step plots the pixel on the line and up to two neighbours
    with their anti-aliasing value, then moves along one or both axes by the sign of an integer
    error term. skimage keeps the error and the length ``ed`` in float32, so do we. Pixels outside
    the image are dropped; a pixel plotted twice keeps the later value (as the original's numpy
    assignment does), and pixels never plotted get 0.
    """
    r, c = np.asarray(r0, np.int64).copy(), np.asarray(c0, np.int64).copy()
    r1, c1 = np.asarray(r1, np.int64), np.asarray(c1, np.int64)
    count = len(r)
    dc, dr = np.abs(c - c1), np.abs(r - r1)
    sign_c = np.where(c < c1, 1, -1)
    sign_r = np.where(r < r1, 1, -1)
    err = (dc - dr).astype(np.float32)
    ed = np.where(dc + dr == 0, 1.0, np.sqrt((dc * dc + dr * dr).astype(np.float64)))
    ed = ed.astype(np.float32)
    dc32, dr32 = dc.astype(np.float32), dr.astype(np.float32)
    cover = np.zeros((count, size * size), np.float32)
    line = np.arange(count)

    def plot(mask: np.ndarray, rows: np.ndarray, cols: np.ndarray, value: np.ndarray) -> None:
        mask = mask & (rows >= 0) & (rows < size) & (cols >= 0) & (cols < size)
        cover[line[mask], rows[mask] * size + cols[mask]] = value[mask]

    active = np.ones(count, bool)
    for _ in range(int((dc + dr).max(initial=0)) + 2):  # each step moves at least one axis
        if not active.any():
            break
        plot(active, r, c, 1.0 - np.abs(err - dc32 + dr32) / ed)
        before, c_before = err.copy(), c.copy()
        move_c = active & (2 * before >= -dc32)
        active &= ~(move_c & (c == c1))
        move_c &= active
        plot(move_c & (before + dr32 < ed), r + sign_r, c, 1.0 - np.abs(before + dr32) / ed)
        err = np.where(move_c, err - dr32, err)
        c = np.where(move_c, c + sign_c, c)
        move_r = active & (2 * before <= dr32)
        active &= ~(move_r & (r == r1))
        move_r &= active
        plot(move_r & (dc32 - before < ed), r, c_before + sign_c, 1.0 - np.abs(dc32 - before) / ed)
        err = np.where(move_r, err + dc32, err)
        r = np.where(move_r, r + sign_r, r)
    return cover.reshape(count, size, size)


def line_ends(starts: np.ndarray, angles: np.ndarray, half_length: float) -> tuple[np.ndarray, ...]:
    """Integer ends (r0, c0, r1, c1) of lines through ``starts`` (..., 2) at ``angles``: the
    original's int(x -/+ cos a * l), int(y -/+ sin a * l), int() truncating towards 0."""
    x, y = starts[..., 0], starts[..., 1]
    s, c = np.sin(angles) * half_length, np.cos(angles) * half_length
    return tuple(np.trunc(v).astype(np.int64) for v in (x - c, y - s, x + c, y + s))


@corruption(
    "lines",
    CBAR,
    random=True,
    # severity s: int(s / 10 * 32) grey anti-aliased lines (1, 3, 4, 6, 8), each 64 pixels long
    # through a uniform point, their angles spread by up to +-(0.1 .. 1) pi about a random one
    severities=(0.5, 1.0, 1.5, 2.0, 2.5),
)
def lines(x: torch.Tensor, severity: float, draws: Draws) -> torch.Tensor:
    n = len(x)
    count = int(scaled(severity, 1.0) * SIZE)
    angle = draws.rng.uniform(0.0, 2 * np.pi, n)
    spread = draws.rng.uniform(0.1, 1.0, n)
    u = draws.rng.uniform(size=(n, count, 3))
    starts = SIZE * u[..., :2]
    angles = angle[:, None] + 2 * np.pi * spread[:, None] * (u[..., 2] - 0.5)
    return lines_with(x, *line_ends(starts, angles, 1.0 * SIZE))


def lines_with(
    x: torch.Tensor, r0: np.ndarray, c0: np.ndarray, r1: np.ndarray, c1: np.ndarray
) -> torch.Tensor:
    """Draw the (n, k) lines in grey: each pulls its pixels towards grey by its coverage v,
    x -> (1 - v) x + v grey, so after all lines x -> grey + prod(1 - v) (x - grey)."""
    n, k = r0.shape
    if k == 0:
        return x
    cover = antialiased_lines(r0.reshape(-1), c0.reshape(-1), r1.reshape(-1), c1.reshape(-1))
    cover = torch.from_numpy(cover).to(x.device).view(n, k, SIZE, SIZE)
    keep = (1.0 - cover).prod(dim=1).to(x.dtype)[:, None]
    return GREY + keep * (x - GREY)
