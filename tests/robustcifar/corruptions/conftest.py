"""Shared test images: synthetic, deterministic, with smooth areas, sharp edges and fine texture,
so that every corruption has something to change (no test depends on the dataset files)."""

import numpy as np
import pytest
from scipy import ndimage


def make_images(count: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    coarse = rng.uniform(0, 255, (count, 4, 4, 3))
    images = ndimage.zoom(coarse, (1, 8, 8, 1), order=1)
    for image in images:
        top, left = rng.integers(2, 20, 2)
        image[top : top + 10, left : left + 8] = rng.uniform(0, 255, 3)
    images += rng.normal(0, 8, images.shape)
    return np.clip(np.rint(images), 0, 255).astype(np.uint8)


@pytest.fixture(scope="session")
def images() -> np.ndarray:
    """Six uint8 RGB images (6, 32, 32, 3)."""
    return make_images(6)
