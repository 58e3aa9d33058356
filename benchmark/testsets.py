"""The labelled image sets the benchmark sends: clean test images and every corruption x severity.

Corrupted cells come from a CIFAR-10-C folder when one is given (our generated one, or the
official release), otherwise they are generated here from the test images with a fixed seed.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from robustcifar.corruptions import corrupt, open_cifar10c
from robustcifar.datasets import CifarArrays, balanced_subset

from .outcomes import CLEAN


@dataclass
class Cell:
    corruption: str  # "clean" or a CIFAR-10-C name
    severity: int  # 0 for clean
    images: np.ndarray  # uint8 (n, 32, 32, 3)
    labels: np.ndarray  # (n,)
    # Set when this (clean) cell holds more images than the corrupted cells: where their images
    # are among its own, so the same images can be paired across all cells.
    shared_positions: np.ndarray | None = None


def chosen_indices(labels: np.ndarray, per_class: int, seed: int) -> np.ndarray:
    """All test images (per_class <= 0), or a fixed class-balanced subset."""
    return np.arange(len(labels)) if per_class <= 0 else balanced_subset(labels, per_class, seed)


def shared_positions(clean_idx: np.ndarray, idx: np.ndarray) -> np.ndarray | None:
    """Positions of the cells' images `idx` within the clean cell's `clean_idx` (None when they are the same)."""
    if np.array_equal(clean_idx, idx):
        return None
    if not np.isin(idx, clean_idx).all():
        raise ValueError("the corrupted cells' test images must all be in the clean cell: use --clean-per-class 0 "
                         "(all test images) or the same number as --per-class")
    return np.searchsorted(clean_idx, idx)  # both are sorted


def iter_cells(data: CifarArrays, corruptions: list[str], severities: list[int], per_class: int, seed: int,
               cifar10c: Path | None = None, clean_per_class: int = -1) -> Iterator[Cell]:
    idx = chosen_indices(data.test_labels, per_class, seed)
    clean_idx = idx if clean_per_class < 0 else chosen_indices(data.test_labels, clean_per_class, seed)
    yield Cell(CLEAN, 0, data.test_images[clean_idx], data.test_labels[clean_idx], shared_positions(clean_idx, idx))
    reader = open_cifar10c(cifar10c) if cifar10c else None
    if reader is not None:
        c_labels = np.asarray(reader.labels[:10000], dtype=np.int64)
        c_idx = chosen_indices(c_labels, per_class, seed)
    for name in corruptions:
        for severity in severities:
            if reader is not None:
                yield Cell(name, severity, reader.images(name, severity)[c_idx], c_labels[c_idx])
            else:
                images = corrupt(data.test_images[idx], name, severity, seed=seed)
                yield Cell(name, severity, images, data.test_labels[idx])
