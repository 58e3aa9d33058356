"""The frost textures of the original, read from the ``imagecorruptions`` package data by path.

The PyPI package imagecorruptions (1.1.2, installed with --no-deps, see requirements-nodeps.txt)
ships the six frost pictures of hendrycks/robustness as files in imagecorruptions/frost/. Its
module does not import on current numpy and setuptools, and it is not needed: only the files are
read, found through importlib's module spec without importing the package.
"""

from __future__ import annotations

import functools
import importlib.util
from pathlib import Path

import numpy as np
from PIL import Image

# The original picks np.random.randint(5) from six names, so frost6.jpg is never used.
FILES = ("frost1.png", "frost2.png", "frost3.png", "frost4.jpg", "frost5.jpg")
SHRINK = 5  # the original shrinks each texture by 0.2


def texture_folder() -> Path:
    spec = importlib.util.find_spec("imagecorruptions")
    folders = list(spec.submodule_search_locations or []) if spec else []
    for folder in folders:
        if all((Path(folder) / "frost" / name).is_file() for name in FILES):
            return Path(folder) / "frost"
    raise FileNotFoundError(
        "the frost corruption needs the frost textures of the imagecorruptions package: "
        "pip install --no-deps -r requirements-nodeps.txt"
    )


@functools.cache
def small_textures() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The five textures shrunk as the original does, stacked and zero-padded to one array.

    Returns (textures uint8 (5, H, W, 3) RGB, heights (5,), widths (5,)). The original calls
    cv2.resize(texture, fx=0.2, fy=0.2) with its default bilinear interpolation, which at exactly
    1/5 samples source pixel 5 i + 2 with weight 1 (no antialiasing): a plain subsampling. The
    output side is round(0.2 * side), as OpenCV computes it. An alpha channel is dropped, as
    cv2.imread does.
    """
    folder = texture_folder()
    small = []
    for name in FILES:
        with Image.open(folder / name) as image:
            pixels = np.asarray(image.convert("RGB"))
        rows = _subsample(pixels.shape[0])
        cols = _subsample(pixels.shape[1])
        small.append(pixels[rows][:, cols])
    heights = np.array([texture.shape[0] for texture in small])
    widths = np.array([texture.shape[1] for texture in small])
    stacked = np.zeros((len(small), heights.max(), widths.max(), 3), np.uint8)
    for slot, texture in zip(stacked, small):
        slot[: texture.shape[0], : texture.shape[1]] = texture
    for array in (stacked, heights, widths):
        array.flags.writeable = False  # shared by the cache
    return stacked, heights, widths


def _subsample(side: int) -> np.ndarray:
    count = round(side / SHRINK)
    return np.minimum(SHRINK * np.arange(count) + SHRINK // 2, side - 1)
