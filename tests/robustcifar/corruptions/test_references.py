"""The deterministic corruptions against straightforward per-image references.

Each reference re-does the original's operation (hendrycks/robustness make_cifar_c.py) with
numpy, scipy, PIL or colorsys, one image at a time, then clips and rounds. A difference of one
grey level is allowed for float rounding; more means one of the two is wrong.
"""

import colorsys
import io

import numpy as np
import pytest
from PIL import Image
from scipy import ndimage

from robustcifar.corruptions import corrupt


def rounded(x: np.ndarray) -> np.ndarray:
    return np.rint(np.clip(x, 0, 1) * 255).astype(np.uint8)


def assert_close(actual: np.ndarray, expected: np.ndarray, levels: int = 1) -> None:
    difference = np.abs(actual.astype(int) - expected.astype(int))
    assert difference.max() <= levels, f"max difference {difference.max()} grey levels"


def reference_gaussian_blur(image, sigma):
    # skimage.filters.gaussian(multichannel=True) is scipy's gaussian_filter, mode "nearest".
    return rounded(ndimage.gaussian_filter(image / 255.0, (sigma, sigma, 0), mode="nearest"))


def reference_defocus_blur(image, radius, alias_blur):
    grid = np.arange(-8, 9)  # the original's 17x17 disk for radii up to 8
    rows, cols = np.meshgrid(grid, grid)
    disk = (rows**2 + cols**2 <= radius**2).astype(np.float64)
    disk /= disk.sum()
    bell = np.exp(-(np.array([-1.0, 0.0, 1.0]) ** 2) / (2 * alias_blur**2))
    bell /= bell.sum()  # cv2.getGaussianKernel(3, alias_blur)
    kernel = ndimage.correlate(disk, np.outer(bell, bell), mode="mirror")  # cv2.GaussianBlur
    channels = [ndimage.correlate(image[..., c] / 255.0, kernel, mode="mirror") for c in range(3)]
    return rounded(np.stack(channels, axis=-1))  # cv2.filter2D: border reflect-101


def reference_zoom_blur(image, stop):
    def clipped_zoom(x, factor):
        crop = int(np.ceil(32 / factor))
        top = (32 - crop) // 2
        zoomed = ndimage.zoom(x[top : top + crop, top : top + crop], (factor, factor, 1), order=1)
        trim = (zoomed.shape[0] - 32) // 2
        return zoomed[trim : trim + 32, trim : trim + 32]

    x = image / 255.0
    factors = np.arange(1, stop, 0.01)  # as the original, float round-off included
    return rounded((x + sum(clipped_zoom(x, f) for f in factors)) / (len(factors) + 1))


def reference_pixelate(image, side):
    small = Image.fromarray(image).resize((side, side), Image.BOX)
    return np.asarray(small.resize((32, 32), Image.BOX))


def reference_jpeg(image, quality):
    buffer = io.BytesIO()
    Image.fromarray(image).save(
        buffer, "JPEG", quality=quality
    )  # Pillow's defaults, as the original
    return np.asarray(Image.open(buffer))


def reference_contrast(image, factor):
    x = image / 255.0
    means = x.mean(axis=(0, 1), keepdims=True)
    return rounded((x - means) * factor + means)


def reference_hsv(image, change):
    pixels = []
    for r, g, b in image.reshape(-1, 3) / 255.0:
        h, s, v = change(*colorsys.rgb_to_hsv(r, g, b))
        pixels.append(colorsys.hsv_to_rgb(h, s, v))
    return rounded(np.array(pixels).reshape(image.shape))


def reference_brightness(image, shift):
    return reference_hsv(image, lambda h, s, v: (h, s, min(max(v + shift, 0.0), 1.0)))


def reference_saturate(image, scale, shift):
    return reference_hsv(image, lambda h, s, v: (h, min(max(s * scale + shift, 0.0), 1.0), v))


SIGMAS = (0.4, 0.6, 0.7, 0.8, 1.0)
DEFOCUS = ((0.3, 0.4), (0.4, 0.5), (0.5, 0.6), (1, 0.2), (1.5, 0.1))
ZOOM_STOPS = (1.06, 1.11, 1.16, 1.21, 1.26)  # the original's np.arange stops
PIXELS = (30, 28, 27, 24, 20)
QUALITIES = (80, 65, 58, 50, 40)
CONTRASTS = (0.75, 0.5, 0.4, 0.3, 0.15)
BRIGHTNESS = (0.05, 0.1, 0.15, 0.2, 0.3)
SATURATE = ((0.3, 0), (0.1, 0), (1.5, 0), (2, 0.1), (2.5, 0.2))

CASES = {
    "gaussian_blur": lambda image, s: reference_gaussian_blur(image, SIGMAS[s - 1]),
    "defocus_blur": lambda image, s: reference_defocus_blur(image, *DEFOCUS[s - 1]),
    "zoom_blur": lambda image, s: reference_zoom_blur(image, ZOOM_STOPS[s - 1]),
    "pixelate": lambda image, s: reference_pixelate(image, PIXELS[s - 1]),
    "jpeg_compression": lambda image, s: reference_jpeg(image, QUALITIES[s - 1]),
    "contrast": lambda image, s: reference_contrast(image, CONTRASTS[s - 1]),
    "brightness": lambda image, s: reference_brightness(image, BRIGHTNESS[s - 1]),
    "saturate": lambda image, s: reference_saturate(image, *SATURATE[s - 1]),
}


@pytest.mark.parametrize("severity", [1, 2, 3, 4, 5])
@pytest.mark.parametrize("name", sorted(CASES))
def test_matches_reference(images, name, severity):
    actual = corrupt(images[:3], name, severity)
    expected = np.stack([CASES[name](image, severity) for image in images[:3]])
    assert_close(actual, expected, levels=0 if name == "jpeg_compression" else 1)
