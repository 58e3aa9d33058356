"""The image sets one training run uses, as tensors on the training device."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from robustcifar.corruptions import BENCHMARK_CORRUPTIONS, SEVERITIES, corrupt_random
from robustcifar.datasets import CifarArrays, capped_balanced_indices, training_selection

from .config import TrainConfig


@dataclass
class LabelledImages:
    images: torch.Tensor  # uint8 (N, 32, 32, 3)
    labels: torch.Tensor  # int64 (N,)

    def __len__(self) -> int:
        return len(self.labels)

    def subset(self, indices: np.ndarray) -> LabelledImages:
        idx = torch.as_tensor(indices, device=self.labels.device)
        return LabelledImages(self.images[idx], self.labels[idx])


@dataclass
class TrainingSets:
    """What one run trains on and is scored on; every held-out set has a fixed corrupted twin."""

    train: LabelledImages
    val: LabelledImages  # held-out training images (empty when train_fraction is 1)
    corrupted_val: LabelledImages  # `val`, each image under a random benchmark corruption
    test: LabelledImages
    corrupted_test: LabelledImages  # `test`, each image under a random benchmark corruption
    gallery: LabelledImages  # what embedders' kNN votes over


def _corrupted_copy(images: np.ndarray, seed: int) -> np.ndarray:
    """A fixed corrupted copy, drawn once, so the numbers of every epoch are comparable."""
    if len(images) == 0:
        return images
    corrupted, _, _ = corrupt_random(images, BENCHMARK_CORRUPTIONS, SEVERITIES, seed=seed)
    return corrupted


def _tensors(images: np.ndarray, labels: np.ndarray, device: torch.device) -> LabelledImages:
    return LabelledImages(torch.from_numpy(images).to(device), torch.from_numpy(labels).long().to(device))


def prepare_sets(config: TrainConfig, data: CifarArrays, device: torch.device) -> TrainingSets:
    train_idx, val_idx = training_selection(
        data.train_labels, config.train_fraction, config.max_train_images, config.seed
    )
    val_idx = val_idx[capped_balanced_indices(data.train_labels[val_idx], config.final_eval_images, config.seed)]
    test_idx = capped_balanced_indices(data.test_labels, config.final_eval_images, config.seed)
    val_images, test_images = data.train_images[val_idx], data.test_images[test_idx]
    train = _tensors(data.train_images[train_idx], data.train_labels[train_idx], device)
    gallery_idx = capped_balanced_indices(data.train_labels[train_idx], config.knn_gallery_max, config.seed)
    return TrainingSets(
        train=train,
        val=_tensors(val_images, data.train_labels[val_idx], device),
        corrupted_val=_tensors(_corrupted_copy(val_images, config.seed + 2), data.train_labels[val_idx], device),
        test=_tensors(test_images, data.test_labels[test_idx], device),
        corrupted_test=_tensors(_corrupted_copy(test_images, config.seed + 1), data.test_labels[test_idx], device),
        gallery=train.subset(gallery_idx),
    )


def capped_sets(sets: TrainingSets, cap: int, seed: int) -> TrainingSets:
    """The same sets with every held-out set and the gallery cut to a class-balanced `cap` (0: unchanged).

    What is scored after every epoch; the whole sets are scored once, at the end.
    """
    def cut(part: LabelledImages) -> LabelledImages:
        return part.subset(capped_balanced_indices(part.labels.cpu().numpy(), cap, seed)) if len(part) else part

    # a set and its corrupted twin share labels, so they are cut to the same images
    return TrainingSets(train=sets.train, val=cut(sets.val), corrupted_val=cut(sets.corrupted_val),
                        test=cut(sets.test), corrupted_test=cut(sets.corrupted_test), gallery=cut(sets.gallery))
