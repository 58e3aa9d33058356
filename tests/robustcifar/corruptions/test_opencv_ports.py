"""The torch ports of cv2.Canny, distanceTransform and equalizeHist against plain per-image
re-implementations of the same OpenCV algorithms (loops over pixels, no vectorisation)."""

from collections import deque

import numpy as np
import pytest
import torch
from scipy import ndimage

from robustcifar.corruptions.opencv_ports import (
    CHAMFER_WEIGHTS,
    TG22,
    canny,
    distance_transform,
    equalize_histogram,
)
from robustcifar.corruptions.spatter import water_shading


def test_fixed_point_constants_are_opencvs():
    assert TG22 == 13573
    assert CHAMFER_WEIGHTS == (65536, 91750, 143976)


def reference_canny(image, low, high):
    padded = np.pad(image.astype(np.int64), 1, mode="edge")
    height, width = image.shape
    dx = np.zeros((height, width), np.int64)
    dy = np.zeros((height, width), np.int64)
    for r in range(height):
        for c in range(width):
            window = padded[r : r + 3, c : c + 3]
            dx[r, c] = (window[:, 2] - window[:, 0]) @ np.array([1, 2, 1])
            dy[r, c] = (window[2] - window[0]) @ np.array([1, 2, 1])
    magnitude = np.abs(dx) + np.abs(dy)
    mag = np.pad(magnitude, 1)  # zero outside
    candidate = np.zeros((height, width), bool)
    for r in range(height):
        for c in range(width):
            m = magnitude[r, c]
            if m <= low:
                continue
            ax, ay = abs(dx[r, c]), abs(dy[r, c]) << 15
            if ay < ax * TG22:
                keep = m > mag[r + 1, c] and m >= mag[r + 1, c + 2]
            elif ay > ax * TG22 + (ax << 16):
                keep = m > mag[r, c + 1] and m >= mag[r + 2, c + 1]
            else:
                s = -1 if (dx[r, c] ^ dy[r, c]) < 0 else 1
                keep = m > mag[r, c + 1 - s] and m > mag[r + 2, c + 1 + s]
            candidate[r, c] = keep
    edges = np.zeros((height, width), bool)
    queue = deque(zip(*np.nonzero(candidate & (magnitude > high))))
    while queue:
        r, c = queue.popleft()
        if edges[r, c]:
            continue
        edges[r, c] = True
        for rr in range(max(r - 1, 0), min(r + 2, height)):
            for cc in range(max(c - 1, 0), min(c + 2, width)):
                if candidate[rr, cc] and not edges[rr, cc]:
                    queue.append((rr, cc))
    return edges


def blobby_images(count, seed, size=32):
    """Thresholded smooth noise, like spatter's liquid layer: blobs with sharp borders."""
    rng = np.random.default_rng(seed)
    layer = ndimage.gaussian_filter(rng.normal(0.65, 0.3, (count, size, size)), (0, 1, 1))
    layer[layer < 0.69] = 0
    return np.clip(layer * 255, 0, 255).astype(np.uint8)


def test_canny_matches_the_per_pixel_algorithm():
    images = np.concatenate(
        [blobby_images(4, 0), np.random.default_rng(1).integers(0, 256, (2, 32, 32))]
    )
    actual = canny(torch.from_numpy(images).float(), 50, 150).numpy()
    for image, edges in zip(images, actual):
        assert np.array_equal(edges, reference_canny(image, 50, 150))
    assert actual.any() and not actual.all()


def chamfer_cost(dr, dc):
    a, b, c = CHAMFER_WEIGHTS
    big, small = max(abs(dr), abs(dc)), min(abs(dr), abs(dc))
    if 2 * small <= big:
        return c * small + a * (big - 2 * small)
    return c * (big - small) + b * (2 * small - big)


def test_distance_transform_is_the_5x5_chamfer_distance():
    rng = np.random.default_rng(4)
    zero = rng.uniform(size=(3, 20, 24)) < 0.02
    zero[2] = False
    zero[2, 19, 0] = True  # a single seed in a corner: long paths
    actual = distance_transform(torch.from_numpy(zero)).numpy()
    for mask, dist in zip(zero, actual):
        seeds = np.argwhere(mask)
        for (r, c), value in np.ndenumerate(dist):
            best = min(chamfer_cost(r - sr, c - sc) for sr, sc in seeds)
            assert value == np.float32(best / 65536)


def test_distance_transform_without_zeros_is_far():
    assert distance_transform(torch.zeros(1, 8, 8, dtype=torch.bool)).min() > 1e6


def reference_equalize(image):
    hist = np.bincount(image.ravel(), minlength=256)
    lowest = np.flatnonzero(hist)[0]
    if hist[lowest] == image.size:
        return image.copy()
    scale = np.float32(255.0) / np.float32(image.size - hist[lowest])
    lut = np.zeros(256, np.int64)
    total = 0
    for i in range(lowest + 1, 256):
        total += hist[i]
        lut[i] = min(255, int(np.rint(np.float32(total) * scale)))
    return lut[image]


def test_equalize_histogram_matches_opencvs_algorithm():
    rng = np.random.default_rng(5)
    images = rng.integers(0, 21, (5, 32, 32))
    images[1] = 7  # a single value: left as it is
    images[2] = rng.integers(3, 5, (32, 32))
    actual = equalize_histogram(torch.from_numpy(images).float()).numpy()
    for image, equalized in zip(images, actual):
        assert np.array_equal(equalized, reference_equalize(image))


@pytest.mark.parametrize("seed", [0, 1])
def test_water_shading_holds_8_bit_values(seed):
    layer = blobby_images(3, seed) / 255.0
    shading = water_shading(torch.from_numpy(layer).float()).numpy()
    assert shading.shape == layer.shape
    assert np.all(shading == np.round(shading)) and shading.min() >= 0 and shading.max() <= 255
