"""gallery.npz: the reference embeddings an embedder's kNN vote is taken over."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np


@dataclass
class Gallery:
    embeddings: np.ndarray  # float32 (N, D), unit length
    labels: np.ndarray  # int64 (N,)

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        np.savez(path, embeddings=self.embeddings.astype(np.float32), labels=self.labels.astype(np.int64))

    @classmethod
    def load(cls, path: Path) -> Gallery:
        with np.load(path) as f:
            return cls(f["embeddings"].astype(np.float32), f["labels"].astype(np.int64))
