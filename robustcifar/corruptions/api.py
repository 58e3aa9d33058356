"""corrupt() and corrupt_random(): apply registered corruptions to a batch of images."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from robustcifar.corruptions import batch, seeding
from robustcifar.corruptions.registry import CorruptionError, check_severity, lookup


def corrupt(images, name: str, severity: int, seed: int = 0):
    """Corrupt every image of a batch with corruption ``name`` at ``severity``.

    images: uint8 RGB images of shape (N, 32, 32, 3), channels last, as a numpy array or a torch
        tensor on any device (N may be 0).
    name: a CIFAR-10-C or CIFAR-10-C-bar file stem, one of KNOWN_CORRUPTIONS.
    severity: 1 (mildest) to 5.
    seed: non-negative int. The output is a function of (images, name, severity, seed): each image
        gets its own random draws (two copies of an image in a batch are corrupted differently),
        taken from a numpy generator seeded with (seed, name, severity, chunk of 500 images), so
        they depend on the image's place in the batch and on the batch length, not on the other
        images. They are drawn on the CPU whatever the device, so CPU and CUDA agree up to
        floating-point rounding. The deterministic corruptions (eight of CIFAR-10-C's, and
        CIFAR-10-C-bar's circular_motion_blur) ignore the seed.

    Returns the corrupted images with the type, shape, dtype and device of ``images``. Values are
    computed as floats in [0, 1], clipped, and ROUNDED to uint8 (the original truncated).
    Raises CorruptionError (a ValueError) on a bad argument.
    """
    entry = lookup(name)
    params = entry.params(severity)
    seed = seeding.check_seed(seed)
    source = batch.as_uint8_tensor(images)
    result = torch.empty_like(source)
    for chunk, rows in batch.chunks(len(source)):
        rng = seeding.chunk_generator(seed, entry.name, int(severity), chunk)
        draws = seeding.Draws(rng, source.device)
        corrupted = entry.apply(batch.to_float(source[rows]), params, draws)
        result[rows] = batch.to_uint8(corrupted)
    return batch.like_input(result, images)


def corrupt_random(images, names: Sequence[str], severities: Sequence[int], seed: int = 0):
    """Corrupt each image with its own (corruption, severity), drawn uniformly from the pools.

    The corruption and the severity of an image are drawn independently, uniformly from ``names``
    and ``severities`` (a generator seeded with ``seed``), then every (name, severity) group is
    corrupted by ``corrupt(group, name, severity, seed)``.

    Returns (corrupted, chosen_name_index, chosen_severity): the images as ``corrupt`` returns
    them, the index into ``names`` and the severity chosen for each image, as int64 arrays of
    shape (N,) - numpy arrays for numpy input, tensors on the input's device for tensor input.
    """
    names = _check_pool(names, "names")
    severities = _check_pool(severities, "severities")
    for name in names:
        lookup(name)
    for severity in severities:
        check_severity(severity)
    seed = seeding.check_seed(seed)
    source = batch.as_uint8_tensor(images)

    rng = seeding.generator(seed, seeding.stream_key("corrupt_random"))
    name_index = rng.integers(0, len(names), len(source))
    severity = np.asarray(severities, dtype=np.int64)[rng.integers(0, len(severities), len(source))]
    result = source.clone()
    for i, name in enumerate(names):
        for level in np.unique(severity[name_index == i]):
            rows = np.flatnonzero((name_index == i) & (severity == level))
            picked = torch.as_tensor(rows, device=source.device)
            result[picked] = corrupt(source[picked], name, int(level), seed)
    if isinstance(images, np.ndarray):
        return result.cpu().numpy(), name_index, severity
    device = source.device
    return (
        result,
        torch.as_tensor(name_index, device=device),
        torch.as_tensor(severity, device=device),
    )


def _check_pool(pool: object, what: str) -> list:
    if isinstance(pool, np.ndarray):
        pool = pool.tolist()
    if isinstance(pool, (str, bytes)) or not isinstance(pool, Sequence) or len(pool) == 0:
        raise CorruptionError(f"{what} must be a non-empty list or tuple, got {pool!r}")
    return list(pool)
