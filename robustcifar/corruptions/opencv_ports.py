"""The OpenCV routines the original's spatter uses, ported to batched torch.

cv2.Canny, cv2.distanceTransform(DIST_L2, 5) and cv2.equalizeHist, re-described from OpenCV's
imgproc sources (canny.cpp, distransform.cpp, histogram.cpp, OpenCV 3.x/4.x) so that their integer
arithmetic is reproduced exactly. Images are (n, H, W) tensors holding 8-bit values.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from robustcifar.corruptions import filters

SOBEL_X = np.array([[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]])
SOBEL_Y = SOBEL_X.T
# canny.cpp compares |dy| << 15 with |dx| * TG22, TG22 = tan(22.5 deg) in 15-bit fixed point.
CANNY_SHIFT = 15
TG22 = int(0.4142135623730950488016887242097 * (1 << CANNY_SHIFT) + 0.5)


def canny(image: torch.Tensor, low: int, high: int) -> torch.Tensor:
    """cv2.Canny(image, low, high) with apertureSize 3 and the L1 gradient: bool edges (n, H, W).

    Sobel derivatives with replicated borders; a pixel survives non-maximum suppression when its
    gradient magnitude |dx| + |dy| exceeds ``low`` and is a maximum along the gradient direction
    (quantised to 0, 45, 90 or 135 degrees; magnitudes outside the image count as 0); survivors
    above ``high`` are edges, and so is every survivor 8-connected to an edge.
    """
    image = image.to(torch.int64)
    dx = filters.filter2d(image, SOBEL_X, "nearest")
    dy = filters.filter2d(image, SOBEL_Y, "nearest")
    magnitude = dx.abs() + dy.abs()
    survivors = (magnitude > low) & _is_local_maximum(magnitude, dx, dy)
    edges = survivors & (magnitude > high)
    while True:  # hysteresis: grow the edges into connected survivors until nothing changes
        grown = F.max_pool2d(edges[:, None].float(), 3, stride=1, padding=1)[:, 0] > 0
        grown &= survivors
        if torch.equal(grown, edges):
            return edges
        edges = grown


def _is_local_maximum(magnitude: torch.Tensor, dx: torch.Tensor, dy: torch.Tensor):
    height, width = magnitude.shape[-2:]
    padded = F.pad(magnitude, (1, 1, 1, 1))  # zeros outside, as canny.cpp's magnitude rows

    def neighbour(row: int, col: int) -> torch.Tensor:
        return padded[:, 1 + row : 1 + row + height, 1 + col : 1 + col + width]

    ax, ay = dx.abs(), dy.abs() << CANNY_SHIFT
    tg22x = ax * TG22
    tg67x = tg22x + (ax << (CANNY_SHIFT + 1))
    horizontal = ay < tg22x
    vertical = ~horizontal & (ay > tg67x)
    # Diagonal: compare with the neighbours along the gradient, up-left/down-right when dx and dy
    # have the same sign, up-right/down-left otherwise (canny.cpp: s = (dx ^ dy) < 0 ? -1 : 1).
    same_sign = (dx ^ dy) >= 0
    along = torch.where(
        same_sign,
        (magnitude > neighbour(-1, -1)) & (magnitude > neighbour(1, 1)),
        (magnitude > neighbour(-1, 1)) & (magnitude > neighbour(1, -1)),
    )
    across_columns = (magnitude > neighbour(0, -1)) & (magnitude >= neighbour(0, 1))
    across_rows = (magnitude > neighbour(-1, 0)) & (magnitude >= neighbour(1, 0))
    return torch.where(horizontal, across_columns, torch.where(vertical, across_rows, along))


# distransform.cpp's 5x5 mask for DIST_L2: steps of (1, 0), (1, 1) and (2, 1) pixels cost 1, 1.4
# and 2.1969 (float32 constants), kept in 16-bit fixed point as OpenCV does (CV_FLT_TO_FIX).
DIST_SHIFT = 16
CHAMFER_WEIGHTS = tuple(round(float(np.float32(w)) * (1 << DIST_SHIFT)) for w in (1.0, 1.4, 2.1969))


def distance_transform(zero: torch.Tensor) -> torch.Tensor:
    """cv2.distanceTransform(src, DIST_L2, 5): for every pixel, the 5x5-chamfer distance to the
    nearest pixel where ``zero`` (bool, n x H x W) is True; float32, 0 there.

    OpenCV runs a forward raster pass (neighbours above and to the left) and a backward one
    (below and to the right). Here each pass goes row by row over the whole batch; within a row
    the left-to-right recurrence d[j] = min(d[j], d[j - 1] + a) is a running minimum of
    d[k] - a k, plus a j. Pixels outside the image are infinitely far, as in OpenCV.
    """
    a, b, c = CHAMFER_WEIGHTS
    n, height, width = zero.shape
    far = float(2**40)
    dist = torch.full((n, height + 4, width + 4), far, dtype=torch.float64, device=zero.device)
    inner = dist[:, 2:-2, 2:-2]
    inner[zero] = 0.0
    ramp = torch.arange(width, dtype=torch.float64, device=zero.device) * a
    # (row offset, column offset, cost) of the mask half that the forward pass looks at.
    forward = [
        (-2, -1, c),
        (-2, 1, c),
        (-1, -2, c),
        (-1, -1, b),
        (-1, 0, a),
        (-1, 1, b),
        (-1, 2, c),
    ]
    for i in range(height):
        _relax_row(dist, i, forward, ramp, reverse=False)
    backward = [(-r, -s, cost) for r, s, cost in forward]
    for i in reversed(range(height)):
        _relax_row(dist, i, backward, ramp, reverse=True)
    return (inner * (1.0 / (1 << DIST_SHIFT))).to(torch.float32)


def _relax_row(dist, i, mask, ramp, reverse: bool) -> None:
    width = dist.shape[-1] - 4
    row = dist[:, i + 2, 2 : 2 + width]
    best = row.clone()
    for dr, dc, cost in mask:
        best = torch.minimum(best, dist[:, i + 2 + dr, 2 + dc : 2 + dc + width] + cost)
    if reverse:
        best = best.flip(-1)
    best = torch.cummin(best - ramp, dim=-1).values + ramp  # the in-row neighbour, step a
    row.copy_(best.flip(-1) if reverse else best)


def equalize_histogram(image: torch.Tensor) -> torch.Tensor:
    """cv2.equalizeHist on each 8-bit image of (n, H, W) (integer values 0-255, any dtype).

    With i0 the smallest value present: lut[i] = round(cumulative count of (i0, i] * 255 / (pixels
    - count of i0)), that scale and product in float32, rounding half to even (cvRound); an image
    of a single value is left as it is.
    """
    n = image.shape[0]
    values = image.reshape(n, -1).long()
    counts = torch.zeros(n, 256, dtype=torch.int64, device=image.device)
    counts.scatter_add_(1, values, torch.ones_like(values))
    lowest = values.min(dim=1, keepdim=True).values
    lowest_count = counts.gather(1, lowest)
    total = values.shape[1]
    scale = 255.0 / (total - lowest_count).clamp_min(1).to(torch.float32)
    above_lowest = counts.cumsum(dim=1) - counts.cumsum(dim=1).gather(1, lowest)
    lut = torch.round(above_lowest.to(torch.float32) * scale).clamp(0, 255)
    equalized = lut.gather(1, values).to(image.dtype).reshape(image.shape)
    single_value = (lowest_count == total).reshape(n, 1, 1)
    return torch.where(single_value, image, equalized)
