"""Class-balanced index selections: the train/validation split and fixed evaluation subsets."""

from __future__ import annotations

import numpy as np


def _per_class_shuffled(labels: np.ndarray, seed: int) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [rng.permutation(np.flatnonzero(labels == c)) for c in np.unique(labels)]


def balanced_train_val_split(labels: np.ndarray, train_fraction: float, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Indices (train, validation): `train_fraction` of every class for training, the rest for validation.

    train_fraction=1.0 gives an empty validation set. Both index arrays come back sorted.
    """
    if not 0.0 < train_fraction <= 1.0:
        raise ValueError(f"train_fraction must be in (0, 1], got {train_fraction}")
    train, val = [], []
    for indices in _per_class_shuffled(np.asarray(labels), seed):
        n_train = max(1, round(train_fraction * len(indices)))
        train.append(indices[:n_train])
        val.append(indices[n_train:])
    return np.sort(np.concatenate(train)), np.sort(np.concatenate(val))


def balanced_subset(labels: np.ndarray, per_class: int, seed: int = 0) -> np.ndarray:
    """Sorted indices of `per_class` images of every class (all of a class if it has fewer)."""
    if per_class <= 0:
        raise ValueError(f"per_class must be positive, got {per_class}")
    chosen = [indices[:per_class] for indices in _per_class_shuffled(np.asarray(labels), seed)]
    return np.sort(np.concatenate(chosen))


def capped_balanced_indices(labels: np.ndarray, cap: int, seed: int = 0) -> np.ndarray:
    """All indices when cap <= 0 or cap >= len(labels), else a class-balanced `cap` of them."""
    labels = np.asarray(labels)
    if cap <= 0 or cap >= len(labels):
        return np.arange(len(labels))
    return balanced_subset(labels, max(1, cap // len(np.unique(labels))), seed)


def training_selection(
    labels: np.ndarray, train_fraction: float, max_train_images: int, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """(train, validation) indices into the training set, as a training run uses them.

    Export rebuilds the same selection from the numbers in the checkpoint, to build the gallery
    from exactly the images the model was trained on.
    """
    train_idx, val_idx = balanced_train_val_split(labels, train_fraction, seed)
    train_idx = train_idx[capped_balanced_indices(np.asarray(labels)[train_idx], max_train_images, seed)]
    return train_idx, val_idx


def chosen_indices(labels: np.ndarray, per_class: int, seed: int) -> np.ndarray:
    """All images (per_class <= 0), or a fixed class-balanced `per_class` of each class: the test
    images a benchmark cell holds (and a CIFAR-10-C folder of some test images was made from)."""
    return np.arange(len(labels)) if per_class <= 0 else balanced_subset(labels, per_class, seed)
