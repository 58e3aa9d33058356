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
    # where each image comes from: its index in CIFAR-10's training or test set, and for a corrupted
    # copy the corruption (index into BENCHMARK_CORRUPTIONS) and severity it was given
    source_index: np.ndarray | None = None
    corruption: np.ndarray | None = None
    severity: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.labels)

    def subset(self, indices: np.ndarray) -> LabelledImages:
        idx = torch.as_tensor(indices, device=self.labels.device)

        def pick(values: np.ndarray | None) -> np.ndarray | None:
            return None if values is None else values[np.asarray(indices)]

        return LabelledImages(self.images[idx], self.labels[idx], pick(self.source_index), pick(self.corruption),
                              pick(self.severity))


@dataclass
class TrainingSets:
    """What one run trains on and is scored on; every held-out set has a fixed corrupted twin."""

    train: LabelledImages
    val: LabelledImages  # held-out training images (empty when train_fraction is 1)
    corrupted_val: LabelledImages  # `val`, each image under a random benchmark corruption
    test: LabelledImages
    corrupted_test: LabelledImages  # `test`, each image under a random benchmark corruption
    gallery: LabelledImages  # what embedders' kNN votes over


def _tensors(images: np.ndarray, labels: np.ndarray, index: np.ndarray, device: torch.device) -> LabelledImages:
    return LabelledImages(torch.from_numpy(images).to(device), torch.from_numpy(labels).long().to(device), index)


def _corrupted_copy(clean: LabelledImages, seed: int) -> LabelledImages:
    """A fixed corrupted copy, drawn once, so the numbers of every epoch are comparable."""
    if len(clean) == 0:
        return clean
    corrupted, name_index, severity = corrupt_random(clean.images.cpu().numpy(), BENCHMARK_CORRUPTIONS, SEVERITIES,
                                                     seed=seed)
    return LabelledImages(torch.from_numpy(corrupted).to(clean.images.device), clean.labels, clean.source_index,
                          np.asarray(name_index), np.asarray(severity))


def prepare_sets(config: TrainConfig, data: CifarArrays, device: torch.device) -> TrainingSets:
    """The split and the held-out sets depend on `config.split_seed` alone, never on the training seed."""
    seed = config.split_seed
    train_idx, val_idx = training_selection(data.train_labels, config.train_fraction, config.max_train_images, seed)
    val_idx = val_idx[capped_balanced_indices(data.train_labels[val_idx], config.final_eval_images, seed)]
    test_idx = capped_balanced_indices(data.test_labels, config.final_eval_images, seed)
    train = _tensors(data.train_images[train_idx], data.train_labels[train_idx], train_idx, device)
    val = _tensors(data.train_images[val_idx], data.train_labels[val_idx], val_idx, device)
    test = _tensors(data.test_images[test_idx], data.test_labels[test_idx], test_idx, device)
    gallery_idx = capped_balanced_indices(data.train_labels[train_idx], config.knn_gallery_max, seed)
    return TrainingSets(train=train, val=val, corrupted_val=_corrupted_copy(val, seed + 2), test=test,
                        corrupted_test=_corrupted_copy(test, seed + 1), gallery=train.subset(gallery_idx))


def capped_sets(sets: TrainingSets, cap: int, seed: int) -> TrainingSets:
    """The same sets with every held-out set and the gallery cut to a class-balanced `cap` (0: unchanged).

    What is scored after every epoch; the whole sets are scored once, at the end.
    """
    def cut(part: LabelledImages) -> LabelledImages:
        return part.subset(capped_balanced_indices(part.labels.cpu().numpy(), cap, seed)) if len(part) else part

    # a set and its corrupted twin share labels, so they are cut to the same images
    return TrainingSets(train=sets.train, val=cut(sets.val), corrupted_val=cut(sets.corrupted_val),
                        test=cut(sets.test), corrupted_test=cut(sets.corrupted_test), gallery=cut(sets.gallery))
