"""Batch augmentation on uint8 NHWC tensors, on whatever device the data lives on.

The standard CIFAR recipe: pad 4 pixels (reflect), random 32x32 crop, random horizontal flip.
Done for the whole batch at once with gathers, no per-image Python loop.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

PAD = 4


def random_crop_flip(images: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """images uint8 (N, H, W, C) -> same shape; randomness from a CPU generator, so device-independent."""
    n, h, w, _ = images.shape
    if n == 0:
        return images
    device = images.device
    dy = torch.randint(0, 2 * PAD + 1, (n,), generator=generator).to(device)
    dx = torch.randint(0, 2 * PAD + 1, (n,), generator=generator).to(device)
    flip = (torch.rand(n, generator=generator) < 0.5).to(device)
    padded = F.pad(images.permute(0, 3, 1, 2).float(), (PAD, PAD, PAD, PAD), mode="reflect")
    rows = (dy[:, None] + torch.arange(h, device=device)[None, :])  # (N, H)
    cols = dx[:, None] + torch.arange(w, device=device)[None, :]  # (N, W)
    cols = torch.where(flip[:, None], cols.flip(1), cols)
    batch = torch.arange(n, device=device)[:, None, None]
    cropped = padded.permute(0, 2, 3, 1)[batch, rows[:, :, None], cols[:, None, :]]
    return cropped.to(torch.uint8)
