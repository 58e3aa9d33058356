"""scipy.ndimage's cubic-spline resampling as matrices, for CIFAR-10-C-bar's zoom and rotation.

The original calls ``scipy.ndimage.zoom(channel, scale, prefilter=False)`` (transverse chromatic
aberration) and ``scipy.ndimage.rotate(image, angle, reshape=False)`` (circular motion blur), both
with scipy's defaults ``order=3, mode="constant", cval=0``. Both are linear in the image, so each is
a fixed matrix, built here once in float64 from the rules scipy follows (checked against scipy
1.17 in tests/robustcifar/corruptions/test_cbar.py):

- the value at input coordinate u (pixel centres at 0 .. n-1) is sum_k c[k] B3(u - k) over the four
  taps k = floor(u) - 1 .. floor(u) + 2, B3 the cubic B-spline;
- a tap outside 0 .. n-1 reads its whole-sample mirror image (-1 -> 1, n -> n - 2);
- in mode "constant" a coordinate below 0 or above n - 1, on any axis, gives cval = 0: there is
  no interpolation towards the constant, so pixels that rotate out of the image go black at once;
- with the prefilter (rotate's default) c are the image's spline coefficients, the solution of
  sum_k c[k] B3(i - k) = image[i] under the same mirror rule; without it (the original's zoom)
  c is the image itself, so that "zoom" also smooths by the kernel (1/6, 2/3, 1/6), even at scale 1.
"""

from __future__ import annotations

import functools

import numpy as np


def cubic_taps(u: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """First tap floor(u) - 1 (int64, shape of u) and the four B3 weights (u.shape + (4,))."""
    u = np.asarray(u, dtype=np.float64)
    base = np.floor(u)
    t = u - base
    s = 1.0 - t
    weights = np.stack(
        [s**3 / 6, 2 / 3 - t**2 + t**3 / 2, 2 / 3 - s**2 + s**3 / 2, t**3 / 6], axis=-1
    )
    return base.astype(np.int64) - 1, weights


def mirror(index: np.ndarray, n: int) -> np.ndarray:
    """Whole-sample symmetric extension (scipy's "mirror"): d c b | a b c d | c b a."""
    period = 2 * n - 2
    index = np.mod(np.abs(index), period)
    return np.where(index < n, index, period - index)


def sampling_matrix_1d(coordinates: np.ndarray, n: int) -> np.ndarray:
    """(len(coordinates), n): cubic B-spline samples of a length-n signal, mode "constant"."""
    coordinates = np.asarray(coordinates, dtype=np.float64)
    start, weights = cubic_taps(coordinates)
    matrix = np.zeros((len(coordinates), n))
    rows = np.repeat(np.arange(len(coordinates)), 4)
    taps = mirror(start[:, None] + np.arange(4), n).reshape(-1)
    np.add.at(matrix, (rows, taps), weights.reshape(-1))
    outside = (coordinates < 0) | (coordinates > n - 1)
    matrix[outside] = 0.0
    return matrix


def sampling_matrix_2d(rows: np.ndarray, cols: np.ndarray, n: int) -> np.ndarray:
    """(m, n * n): cubic B-spline samples of a flattened n x n image at m (row, col) points."""
    rows = np.asarray(rows, dtype=np.float64).reshape(-1)
    cols = np.asarray(cols, dtype=np.float64).reshape(-1)
    row_start, row_weights = cubic_taps(rows)
    col_start, col_weights = cubic_taps(cols)
    row_taps = mirror(row_start[:, None] + np.arange(4), n)  # (m, 4)
    col_taps = mirror(col_start[:, None] + np.arange(4), n)
    flat = (row_taps[:, :, None] * n + col_taps[:, None, :]).reshape(len(rows), 16)
    weights = (row_weights[:, :, None] * col_weights[:, None, :]).reshape(len(rows), 16)
    inside = (rows >= 0) & (rows <= n - 1) & (cols >= 0) & (cols <= n - 1)
    weights[~inside] = 0.0
    matrix = np.zeros((len(rows), n * n))
    np.add.at(matrix, (np.repeat(np.arange(len(rows)), 16), flat.reshape(-1)), weights.reshape(-1))
    return matrix


@functools.cache
def prefilter_matrix(n: int) -> np.ndarray:
    """(n, n) map from samples to cubic-spline coefficients (scipy's spline_filter1d, order 3,
    in the mirror rule that scipy also uses for mode "constant")."""
    sampling = sampling_matrix_1d(np.arange(n, dtype=np.float64), n)
    inverse = np.linalg.inv(sampling)
    inverse.flags.writeable = False  # shared by the cache
    return inverse


def zoom_crop_matrix(n: int, scale: float) -> np.ndarray:
    """(n, n) matrix of the original's per-channel zoom along one axis: scipy.ndimage.zoom(x,
    scale, prefilter=False) to round(n * scale) samples, then the centred n of them.

    scipy places the output samples so that the first and last coincide with the input's: output
    k reads input coordinate k * (n - 1) / (out - 1). The crop starts at (out - n) // 2.
    """
    out = round(n * scale)  # Python rounding, as scipy.ndimage.zoom computes its shape
    step = (n - 1) / (out - 1) if out > 1 else 1.0
    edge = (out - n) // 2
    return sampling_matrix_1d(np.arange(edge, edge + n, dtype=np.float64) * step, n)


def rotation_sampling(angle: float, n: int) -> np.ndarray:
    """(n * n, n * n) sampling matrix of scipy.ndimage.rotate(..., angle, reshape=False) before
    its prefilter: output pixel (r, c) reads input coordinate M (r, c) + offset, with
    M = [[cos, sin], [-sin, cos]] of ``angle`` degrees and the rotation about the centre."""
    from scipy import special  # scipy's own degree-exact cosine and sine, as rotate uses

    cos, sin = special.cosdg(angle), special.sindg(angle)
    matrix = np.array([[cos, sin], [-sin, cos]])
    centre = (np.array([n, n]) - 1) / 2
    offset = centre - matrix @ centre
    r, c = np.meshgrid(
        np.arange(n, dtype=np.float64), np.arange(n, dtype=np.float64), indexing="ij"
    )
    rows = r * matrix[0, 0] + c * matrix[0, 1] + offset[0]
    cols = r * matrix[1, 0] + c * matrix[1, 1] + offset[1]
    return sampling_matrix_2d(rows, cols, n)


def prefiltered(sampling: np.ndarray, n: int) -> np.ndarray:
    """A sampling matrix on coefficients turned into one on pixels: sampling @ (P kron P)."""
    prefilter = prefilter_matrix(n)
    return sampling @ np.kron(prefilter, prefilter)
