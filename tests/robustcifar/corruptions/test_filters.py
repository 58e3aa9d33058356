"""Border rules, Gaussian filters and resize matrices against scipy and Pillow."""

import numpy as np
import pytest
import torch
from PIL import Image
from scipy import ndimage

from robustcifar.corruptions import filters
from robustcifar.corruptions.resample import clipped_zoom_matrix, pil_box_matrix


@pytest.mark.parametrize("mode", filters.BORDER_MODES)
def test_border_index_matches_numpy_pad(mode):
    numpy_mode = {"nearest": "edge", "reflect": "symmetric", "mirror": "reflect"}[mode]
    signal = np.arange(7)
    for pad in (1, 3, 6, 15):
        expected = np.pad(signal, pad, mode=numpy_mode)
        assert np.array_equal(signal[filters.border_index(7, pad, mode)], expected)


@pytest.mark.parametrize("mode", filters.BORDER_MODES)
@pytest.mark.parametrize(
    ("sigma", "truncate"), [(0.05, 4), (0.4, 4), (1.0, 4), (6.4, 3), (1.92, 3)]
)
def test_gaussian_filter_matches_scipy(mode, sigma, truncate):
    x = np.random.default_rng(0).uniform(0, 1, (2, 3, 32, 32))
    actual = filters.gaussian_filter(torch.from_numpy(x), sigma, mode, truncate).numpy()
    expected = ndimage.gaussian_filter(x, (0, 0, sigma, sigma), mode=mode, truncate=truncate)
    assert np.allclose(actual, expected, atol=1e-12)


@pytest.mark.parametrize("mode", filters.BORDER_MODES)
def test_filter2d_matches_scipy_correlate(mode):
    rng = np.random.default_rng(1)
    x = rng.uniform(0, 1, (2, 32, 32))
    for size in (3, 5):
        kernel = rng.normal(size=(size, size))
        actual = filters.filter2d(torch.from_numpy(x), kernel, mode).numpy()
        expected = ndimage.correlate(x, kernel[None], mode=mode)
        assert np.allclose(actual, expected, atol=1e-12)


def test_filter2d_keeps_integers_integer():
    x = torch.arange(2 * 32 * 32).reshape(2, 32, 32) % 256
    out = filters.filter2d(x, np.array([[-2, -1, 0], [-1, 1, 1], [0, 1, 2]]), "mirror")
    assert out.dtype == x.dtype


@pytest.mark.parametrize(("source", "target"), [(32, 30), (32, 27), (32, 20), (30, 32), (20, 32)])
def test_pil_box_matrix_matches_pillow_float_resize(source, target):
    x = np.random.default_rng(2).uniform(0, 1, (source, source)).astype(np.float32)
    expected = np.asarray(Image.fromarray(x, "F").resize((target, target), Image.BOX))
    matrix = pil_box_matrix(source, target)
    assert np.allclose(matrix @ x @ matrix.T, expected, atol=1e-6)


@pytest.mark.parametrize("factor", [1.0, 1.01, 1.05, 1.1300000000000001, 1.25, 1.75, 2.25])
def test_clipped_zoom_matrix_matches_scipy_zoom(factor):
    x = np.random.default_rng(3).uniform(0, 1, (32, 32))
    crop = int(np.ceil(32 / factor))
    top = (32 - crop) // 2
    zoomed = ndimage.zoom(x[top : top + crop, top : top + crop], factor, order=1)
    trim = (zoomed.shape[0] - 32) // 2
    matrix = clipped_zoom_matrix(32, factor)
    assert np.allclose(matrix @ x @ matrix.T, zoomed[trim : trim + 32, trim : trim + 32])
