"""Digital corruptions: brightness, contrast, saturation, pixelation and JPEG compression.

Parameters from hendrycks/robustness, ImageNet-C/create_c/make_cifar_c.py (the CIFAR-10 script).
"""

from __future__ import annotations

import io

import numpy as np
import torch
from PIL import Image

from robustcifar.corruptions.registry import BENCHMARK, corruption
from robustcifar.corruptions.seeding import Draws


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
    return np.asarray(Image.open(buffer).convert("RGB"))
