"""Image batches in and out.

Users hand over uint8 RGB images of shape (N, 32, 32, 3), channels last, as a numpy array or a torch
tensor on any device. The corruptions compute on float32 tensors (n, 3, 32, 32) in [0, 1] on that
device, one chunk of images at a time, and the result goes back as the same type, shape, dtype and
device as the input.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import torch

from robustcifar.corruptions.registry import CorruptionError

IMAGE_SHAPE = (32, 32, 3)
# Images are processed in chunks of this many: a chunk's float tensors stay in the CPU caches,
# which makes the element-wise work several times faster than on the whole batch at once. The size
# is a constant, never chosen per device, because each chunk draws its own random numbers
# (seeding.chunk_generator): a device-dependent size would give different results per device.
CHUNK_SIZE = 500


def as_uint8_tensor(images: object) -> torch.Tensor:
    """The images as a uint8 torch tensor (N, 32, 32, 3), sharing memory with numpy input."""
    if isinstance(images, np.ndarray):
        dtype, shape = images.dtype, images.shape
        tensor = torch.from_numpy(np.ascontiguousarray(images)) if dtype == np.uint8 else None
    elif isinstance(images, torch.Tensor):
        dtype, shape = images.dtype, tuple(images.shape)
        tensor = images if dtype == torch.uint8 else None
    else:
        raise CorruptionError(
            "images must be a numpy array or torch tensor of uint8 RGB images with shape "
            f"(N, 32, 32, 3); got {type(images).__name__}"
        )
    if tensor is None or len(shape) != 4 or tuple(shape[1:]) != IMAGE_SHAPE:
        raise CorruptionError(
            "images must be uint8 RGB images with shape (N, 32, 32, 3), channels last; "
            f"got dtype {dtype} and shape {tuple(shape)}"
        )
    return tensor


def resolve_device(device: object) -> torch.device:
    """``device`` ("cpu", "cuda", "cuda:1" or a torch.device) checked to exist on this machine."""
    try:
        resolved = torch.device(device)
    except (RuntimeError, TypeError):
        raise CorruptionError(f"unknown device {device!r}; use 'cpu' or 'cuda'") from None
    if resolved.type == "cuda" and not torch.cuda.is_available():
        raise CorruptionError("device 'cuda' asked for, but torch sees no CUDA GPU here")
    if resolved.type not in ("cpu", "cuda"):
        raise CorruptionError(f"unsupported device {device!r}; use 'cpu' or 'cuda'")
    return resolved


def chunks(count: int) -> Iterator[tuple[int, slice]]:
    """(chunk index, slice of the batch) for every chunk of a batch of ``count`` images."""
    for index, start in enumerate(range(0, count, CHUNK_SIZE)):
        yield index, slice(start, min(start + CHUNK_SIZE, count))


def to_float(images: torch.Tensor) -> torch.Tensor:
    """uint8 (n, 32, 32, 3) -> float32 (n, 3, 32, 32) in [0, 1], as the original's x / 255."""
    return images.permute(0, 3, 1, 2).to(torch.float32).div(255.0)


def to_uint8(x: torch.Tensor) -> torch.Tensor:
    """float (n, 3, 32, 32) -> uint8 (n, 32, 32, 3): clip to [0, 1], scale by 255, ROUND.

    The original truncated (np.uint8(x * 255)), which darkens every image by half a grey level on
    average; rounding to nearest (ties to even, as np.rint) is the unbiased choice.
    """
    return x.clamp(0.0, 1.0).mul(255.0).round().to(torch.uint8).permute(0, 2, 3, 1)


def like_input(result: torch.Tensor, images: object) -> np.ndarray | torch.Tensor:
    """``result`` converted to the type of ``images`` (numpy stays numpy, tensors stay tensors)."""
    if isinstance(images, np.ndarray):
        return result.cpu().numpy()
    return result
