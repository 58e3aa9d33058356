"""Digital corruptions: brightness, contrast, saturation, pixelation and JPEG compression.

Parameters from hendrycks/robustness, ImageNet-C/create_c/make_cifar_c.py (the CIFAR-10 script).
"""

from __future__ import annotations

import io
from typing import NamedTuple

import numpy as np
import torch
from PIL import Image

from robustcifar.corruptions import color, filters, resample
from robustcifar.corruptions.registry import BENCHMARK, EXTRA, corruption
from robustcifar.corruptions.seeding import Draws


@corruption(
    "brightness",
    BENCHMARK,
    random=False,
    # added to the HSV value (V) channel, which is then clipped to [0, 1]
    severities=(0.05, 0.10, 0.15, 0.20, 0.30),
)
def brightness(x: torch.Tensor, shift: float, draws: Draws) -> torch.Tensor:
    hsv = color.rgb_to_hsv(x)
    hsv[:, 2] = (hsv[:, 2] + shift).clamp(0.0, 1.0)
    return color.hsv_to_rgb(hsv)


@corruption(
    "contrast",
    BENCHMARK,
    random=False,
    # factor on each channel's distance from that channel's mean over the image
    severities=(0.75, 0.5, 0.4, 0.3, 0.15),
)
def contrast(x: torch.Tensor, factor: float, draws: Draws) -> torch.Tensor:
    means = x.mean(dim=(2, 3), keepdim=True)
    return (x - means) * factor + means


class Saturate(NamedTuple):
    scale: float  # on the HSV saturation (S) channel
    shift: float  # added after scaling; then S is clipped to [0, 1]


@corruption(
    "saturate",
    EXTRA,
    random=False,
    severities=(
        #      scale, shift
        Saturate(0.3, 0.0),
        Saturate(0.1, 0.0),
        Saturate(1.5, 0.0),
        Saturate(2.0, 0.1),
        Saturate(2.5, 0.2),
    ),
)
def saturate(x: torch.Tensor, p: Saturate, draws: Draws) -> torch.Tensor:
    hsv = color.rgb_to_hsv(x)
    hsv[:, 1] = (hsv[:, 1] * p.scale + p.shift).clamp(0.0, 1.0)
    return color.hsv_to_rgb(hsv)


@corruption(
    "pixelate",
    BENCHMARK,
    random=False,
    # side of the low-resolution copy, int(32 * factor) for factor .95 .9 .85 .75 .65
    severities=(30, 28, 27, 24, 20),
)
def pixelate(x: torch.Tensor, side: int, draws: Draws) -> torch.Tensor:
    # PIL BOX resize down to side x side and back up to 32 x 32, one matrix per axis. Pillow rounds
    # to uint8 after each of its four one-axis passes; this stays float (within a grey level).
    size = x.shape[-1]
    down_up = resample.pil_box_matrix(side, size) @ resample.pil_box_matrix(size, side)
    return filters.separable(x, down_up)


@corruption(
    "jpeg_compression",
    BENCHMARK,
    random=False,
    # Pillow JPEG quality, 4:2:0 chroma subsampling (Pillow's default at these qualities)
    severities=(80, 65, 58, 50, 40),
)
def jpeg_compression(x: torch.Tensor, quality: int, draws: Draws) -> torch.Tensor:
    # No torch JPEG codec reproduces libjpeg's, so each image goes through Pillow on the CPU.
    images = x.mul(255).round().to(torch.uint8).permute(0, 2, 3, 1).cpu().numpy()
    decoded = np.stack([jpeg_roundtrip(image, quality) for image in images])
    return torch.from_numpy(decoded).to(x.device).permute(0, 3, 1, 2).float().div(255)


def jpeg_roundtrip(image: np.ndarray, quality: int) -> np.ndarray:
    """One uint8 (32, 32, 3) image encoded as JPEG at ``quality`` and decoded again."""
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format="JPEG", quality=quality, subsampling="4:2:0")
    return np.asarray(Image.open(buffer))  # RGB in, RGB out
