"""Which training images go into each step's batch.

Cross-entropy models see a fresh random permutation each epoch. The angular loss needs positive
pairs, so its batches hold the same number of images of every class (M per class).
Indices are drawn on the CPU from a seeded generator, so every process of a distributed run, and
every rerun, draws the same batches.
"""

from __future__ import annotations

import numpy as np


def shuffled_batches(num_images: int, batch_size: int, epoch: int, seed: int) -> list[np.ndarray]:
    """A permutation cut into full batches (the ragged tail is dropped: BatchNorm dislikes tiny ones)."""
    rng = np.random.default_rng([seed, epoch])
    order = rng.permutation(num_images)
    num_batches = max(1, num_images // batch_size)
    return [order[i * batch_size : (i + 1) * batch_size] for i in range(num_batches)]


def class_balanced_batches(labels: np.ndarray, batch_size: int, epoch: int, seed: int) -> list[np.ndarray]:
    """Batches with batch_size / num_classes images of every class, each class cycling through its images."""
    classes = np.unique(labels)
    per_class = batch_size // len(classes)
    if per_class < 2:
        raise ValueError(f"batch_size {batch_size} gives fewer than 2 images per class for {len(classes)} classes")
    rng = np.random.default_rng([seed, epoch])
    pools = [rng.permutation(np.flatnonzero(labels == c)) for c in classes]
    num_batches = max(1, len(labels) // (per_class * len(classes)))
    batches = []
    for b in range(num_batches):
        picks = [np.take(pool, np.arange(b * per_class, (b + 1) * per_class), mode="wrap") for pool in pools]
        batches.append(rng.permutation(np.concatenate(picks)))
    return batches
