"""The in-memory form of CIFAR-10 every part of the project works with."""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np


@dataclass
class CifarArrays:
    """uint8 (N, 32, 32, 3) RGB images and int64 labels for both splits, plus where they came from.

    `source_kind` is "official" (the binary python release) or "image_folder" (e.g. the JPEG
    copy); figures must say which one they were measured on.
    """

    train_images: np.ndarray
    train_labels: np.ndarray
    test_images: np.ndarray
    test_labels: np.ndarray
    source: str
    source_kind: str

    def test_set_digest(self) -> str:
        """sha256 of the test images and labels, in order: what a CIFAR-10-C folder made from them
        records, so that its rows are known to pair with these images."""
        digest = hashlib.sha256(np.ascontiguousarray(self.test_images).tobytes())
        digest.update(np.asarray(self.test_labels, dtype=np.int64).tobytes())
        return digest.hexdigest()

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        # Unique per process: several processes (torchrun ranks) may fill the cache at once.
        tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp.npz")
        np.savez(
            tmp,
            train_images=self.train_images,
            train_labels=self.train_labels,
            test_images=self.test_images,
            test_labels=self.test_labels,
            source=np.array(self.source),
            source_kind=np.array(self.source_kind),
        )
        tmp.replace(path)

    @classmethod
    def load(cls, path: Path) -> CifarArrays:
        with np.load(path) as f:
            return cls(
                train_images=f["train_images"],
                train_labels=f["train_labels"].astype(np.int64),
                test_images=f["test_images"],
                test_labels=f["test_labels"].astype(np.int64),
                source=str(f["source"]),
                source_kind=str(f["source_kind"]),
            )
