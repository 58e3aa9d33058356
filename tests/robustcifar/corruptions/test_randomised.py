"""The random corruptions with their randomness fixed, against per-image references, and the
noise corruptions' parameters checked by their statistics."""

import math

import numpy as np
import pytest
import torch
from scipy import ndimage

from robustcifar.corruptions import corrupt
from robustcifar.corruptions.blur import glass_blur_with_moves
from robustcifar.corruptions.elastic import elastic_with
from robustcifar.corruptions.frost_textures import FILES, small_textures, texture_folder
from robustcifar.corruptions.motion import blur_along
from robustcifar.corruptions.weather import plasma_fractal


def as_batch(images: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(images).permute(0, 3, 1, 2).float() / 255


def as_images(x: torch.Tensor) -> np.ndarray:
    return np.rint(x.clamp(0, 1).permute(0, 2, 3, 1).numpy() * 255).astype(np.uint8)


def assert_close(actual, expected, levels=1):
    difference = np.abs(actual.astype(int) - expected.astype(int))
    assert difference.max() <= levels, f"max difference {difference.max()} grey levels"


def reference_glass(image, sigma, moves):
    """The original's glass_blur, its loop verbatim in effect, with rounding for its uint8."""
    x = ndimage.gaussian_filter(image / 255.0, (sigma, sigma, 0), mode="nearest")
    x = np.rint(x * 255).astype(np.uint8)
    for step in moves:
        for h in range(31, 1, -1):
            for w in range(31, 1, -1):
                dx, dy = step[h - 2, w - 2]
                h_prime, w_prime = h + dy, w + dx
                # The original's "swap" of numpy views, which in fact copies one way.
                x[h, w], x[h_prime, w_prime] = x[h_prime, w_prime], x[h, w]
    return ndimage.gaussian_filter(x / 255.0, (sigma, sigma, 0), mode="nearest")


@pytest.mark.parametrize(("sigma", "passes"), [(0.05, 1), (0.25, 1), (0.4, 1), (0.25, 2), (0.4, 2)])
def test_glass_blur_matches_the_original_loop(images, sigma, passes):
    rng = np.random.default_rng(passes)
    moves = rng.integers(-1, 1, (len(images), passes, 30, 30, 2))
    actual = as_images(glass_blur_with_moves(as_batch(images), sigma, torch.from_numpy(moves)))
    expected = [reference_glass(image, sigma, step) for image, step in zip(images, moves)]
    assert_close(actual, np.rint(np.clip(expected, 0, 1) * 255))


def reference_motion(image, radius, sigma, angle):
    """ImageMagick's MotionBlurImage written plainly: tap i at (i cos a, i sin a), rounded."""
    width = 2 * math.ceil(radius) + 1
    weights = np.exp(-(np.arange(width) ** 2) / (2 * sigma**2))
    weights /= weights.sum()
    rows, cols = np.mgrid[0:32, 0:32]
    out = np.zeros_like(image, dtype=np.float64)
    for i, weight in enumerate(weights):
        dx = math.ceil(i * math.cos(math.radians(angle)) - 0.5)
        dy = math.ceil(i * math.sin(math.radians(angle)) - 0.5)
        out += weight * image[np.clip(rows + dy, 0, 31), np.clip(cols + dx, 0, 31)]
    return out


@pytest.mark.parametrize(
    ("radius", "sigma"), [(6, 1), (6, 1.5), (6, 2), (8, 2), (9, 2.5), (14, 12)]
)
def test_motion_blur_matches_imagemagicks_formula(images, radius, sigma):
    angles = np.array([-45.0, -13.7, 0.0, 30.0, 44.9, -120.0])
    actual = as_images(blur_along(as_batch(images), radius, sigma, angles))
    expected = [reference_motion(im / 255.0, radius, sigma, a) for im, a in zip(images, angles)]
    assert_close(actual, np.rint(np.clip(expected, 0, 1) * 255))


def reference_elastic(image, jitter, shifts):
    """cv2.warpAffine (reflect-101) and map_coordinates (reflect), via scipy, as the original."""
    points = np.float32([[26, 26], [26, 6], [6, 6]])
    moved = points + jitter.astype(np.float32)
    forward = np.linalg.solve(np.c_[points, np.ones(3)], moved).T  # cv2.getAffineTransform
    inverse = np.linalg.inv(np.vstack([forward, [0, 0, 1]]))
    # scipy works in (row, col): swap x and y of the inverse map.
    matrix = inverse[[1, 0]][:, [1, 0]]
    offset = inverse[[1, 0], 2]
    warped = np.stack(
        [
            ndimage.affine_transform(image[..., c], matrix, offset, order=1, mode="mirror")
            for c in range(3)
        ],
        axis=-1,
    )
    rows, cols = np.mgrid[0:32, 0:32].astype(np.float64)
    coords = [rows + shifts[1], cols + shifts[0]]
    channels = [
        ndimage.map_coordinates(warped[..., c], coords, order=1, mode="reflect") for c in range(3)
    ]
    return np.stack(channels, axis=-1)


@pytest.mark.parametrize(
    ("alpha", "sigma", "jitter"), [(0, 0, 2.56), (1.6, 6.4, 2.24), (3.2, 0.96, 0.96)]
)
def test_elastic_transform_matches_scipy(images, alpha, sigma, jitter):
    rng = np.random.default_rng(7)
    jitters = rng.uniform(-jitter, jitter, (len(images), 3, 2))
    noise = rng.uniform(-1, 1, (len(images), 2, 32, 32))
    shifts = np.stack(
        [
            ndimage.gaussian_filter(n, (0, sigma, sigma), mode="reflect", truncate=3) * alpha
            for n in noise
        ]
    )
    actual = as_images(elastic_with(as_batch(images), jitters, torch.from_numpy(shifts).float()))
    expected = [reference_elastic(im / 255.0, j, s) for im, j, s in zip(images, jitters, shifts)]
    assert_close(actual, np.rint(np.clip(expected, 0, 1) * 255))


def reference_plasma(rng, decay, size=32):
    """The original's plasma_fractal for one map, its steps as written there."""
    field = np.zeros((size, size))
    step, wibble = size, 100.0

    def noisy_mean(total):
        return total / 4 + wibble * rng.uniform(-wibble, wibble, total.shape)

    while step >= 2:
        half = step // 2
        corners = field[0:size:step, 0:size:step]
        square = corners + np.roll(corners, shift=-1, axis=0)
        square += np.roll(square, shift=-1, axis=1)
        field[half:size:step, half:size:step] = noisy_mean(square)
        centres = field[half:size:step, half:size:step]
        corners = field[0:size:step, 0:size:step]
        top = centres + np.roll(centres, 1, axis=0) + corners + np.roll(corners, -1, axis=1)
        field[0:size:step, half:size:step] = noisy_mean(top)
        left = centres + np.roll(centres, 1, axis=1) + corners + np.roll(corners, -1, axis=0)
        field[half:size:step, 0:size:step] = noisy_mean(left)
        step //= 2
        wibble /= decay
    field -= field.min()
    return field / field.max()


@pytest.mark.parametrize("decay", [3, 2.5, 2, 1.75])
def test_plasma_fractal_matches_the_original_per_map(decay):
    # For one map the batched version draws in the same order as the original.
    batched = plasma_fractal(np.random.default_rng(5), 1, decay)[0]
    assert np.allclose(batched, reference_plasma(np.random.default_rng(5), decay))
    maps = plasma_fractal(np.random.default_rng(5), 3, decay)
    assert maps.min() == 0 and np.allclose(maps.max(axis=(1, 2)), 1)


def test_frost_textures_are_the_originals_shrunk():
    from PIL import Image

    stacked, heights, widths = small_textures()
    assert len(FILES) == 5 and stacked.dtype == np.uint8
    for k, name in enumerate(FILES):
        pixels = np.asarray(Image.open(texture_folder() / name).convert("RGB")).astype(float)
        h, w = round(pixels.shape[0] * 0.2), round(pixels.shape[1] * 0.2)
        # cv2.resize(fx=fy=0.2, INTER_LINEAR): sample at (i + 0.5) / 0.2 - 0.5 bilinearly.
        rows = (np.arange(h) + 0.5) / 0.2 - 0.5
        cols = (np.arange(w) + 0.5) / 0.2 - 0.5
        coords = np.meshgrid(rows, cols, indexing="ij")
        expected = np.stack(
            [
                ndimage.map_coordinates(pixels[..., c], coords, order=1, mode="nearest")
                for c in range(3)
            ],
            axis=-1,
        )
        assert (heights[k], widths[k]) == (h, w)
        assert np.array_equal(stacked[k, :h, :w], expected)


def test_frost_adds_a_crop_of_a_texture(images):
    stacked, heights, widths = small_textures()
    out = corrupt(images[:1], "frost", 5, seed=0)[0].astype(float)
    # severity 5: 0.75 x + 0.45 crop, so the crop is (out - 0.75 x) / 0.45 wherever nothing clipped
    crop = (out - 0.75 * images[0]) / 0.45
    unclipped = out < 255
    found = False
    for k in range(5):
        for top in range(heights[k] - 32):
            for left in range(widths[k] - 32):
                candidate = stacked[k, top : top + 32, left : left + 32]
                if np.abs(candidate - crop)[unclipped].max() <= 2.5:
                    found = True
    assert found


def grey_images(level: int, count: int = 20) -> np.ndarray:
    return np.full((count, 32, 32, 3), level, np.uint8)


@pytest.mark.parametrize(("severity", "std"), enumerate((0.04, 0.06, 0.08, 0.09, 0.10), start=1))
def test_gaussian_noise_has_the_table_std(severity, std):
    noise = corrupt(grey_images(128), "gaussian_noise", severity).astype(float) - 128
    assert abs(noise.mean()) < 0.3
    assert noise.std() == pytest.approx(std * 255, rel=0.03)


@pytest.mark.parametrize(("severity", "photons"), enumerate((500, 250, 100, 75, 50), start=1))
def test_shot_noise_is_poisson_with_the_table_count(severity, photons):
    out = corrupt(grey_images(128), "shot_noise", severity).astype(float) / 255
    x = 128 / 255
    assert out.mean() == pytest.approx(x, abs=0.003)
    assert out.std() == pytest.approx(math.sqrt(x / photons), rel=0.05)


@pytest.mark.parametrize(("severity", "amount"), enumerate((0.01, 0.02, 0.03, 0.05, 0.07), start=1))
def test_impulse_noise_flips_the_table_fraction(severity, amount):
    out = corrupt(grey_images(128), "impulse_noise", severity)
    salt, pepper = (out == 255).mean(), (out == 0).mean()
    assert salt + pepper == pytest.approx(amount, rel=0.1)
    assert salt == pytest.approx(pepper, rel=0.25)
    assert np.all((out == 0) | (out == 255) | (out == 128))


@pytest.mark.parametrize(("severity", "std"), enumerate((0.06, 0.1, 0.12, 0.16, 0.2), start=1))
def test_speckle_noise_scales_with_the_value(severity, std):
    dark, bright = (
        corrupt(grey_images(v), "speckle_noise", severity).astype(float) for v in (60, 120)
    )
    assert dark.std() == pytest.approx(std * 60, rel=0.05)
    assert bright.std() == pytest.approx(std * 120, rel=0.05)
