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
    train: LabelledImages
    val: LabelledImages  # the rest of the training set (empty when train_fraction is 1)
    test: LabelledImages
    corrupted_test: LabelledImages  # `test`, each image under a random benchmark corruption
    gallery: LabelledImages  # what embedders' kNN votes over during training


def _tensors(images: np.ndarray, labels: np.ndarray, device: torch.device) -> LabelledImages:
    return LabelledImages(torch.from_numpy(images).to(device), torch.from_numpy(labels).long().to(device))


def prepare_sets(config: TrainConfig, data: CifarArrays, device: torch.device) -> TrainingSets:
    train_idx, val_idx = training_selection(
        data.train_labels, config.train_fraction, config.max_train_images, config.seed
    )
    val_idx = val_idx[capped_balanced_indices(data.train_labels[val_idx], config.eval_max_images, config.seed)]
    test_idx = capped_balanced_indices(data.test_labels, config.eval_max_images, config.seed)
    test_images = data.test_images[test_idx]
    # A fixed corrupted copy, drawn once, so the per-epoch numbers are comparable.
    corrupted, _, _ = corrupt_random(test_images, BENCHMARK_CORRUPTIONS, SEVERITIES, seed=config.seed + 1)
    train = _tensors(data.train_images[train_idx], data.train_labels[train_idx], device)
    gallery_idx = capped_balanced_indices(data.train_labels[train_idx], config.knn_gallery_max, config.seed)
    return TrainingSets(
        train=train,
        val=_tensors(data.train_images[val_idx], data.train_labels[val_idx], device),
        test=_tensors(test_images, data.test_labels[test_idx], device),
        corrupted_test=_tensors(corrupted, data.test_labels[test_idx], device),
        gallery=train.subset(gallery_idx),
    )
