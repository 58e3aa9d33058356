"""Cosine k-nearest-neighbour vote: how embedders turn a 128-d vector into a class label.

Embeddings are unit length, so cosine similarity is a dot product. Each of the k nearest gallery
items votes for its label; ties go to the class whose voters are more similar in total.
Confidence is the winning class's share of the k votes.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

CHUNK = 1024  # queries per similarity block: bounds memory at CHUNK x gallery floats


@dataclass
class KnnResult:
    labels: np.ndarray  # (B,) predicted class
    confidence: np.ndarray  # (B,) share of the k votes the winner got
    neighbor_indices: np.ndarray  # (B, k) gallery rows, most similar first
    neighbor_similarities: np.ndarray  # (B, k)


def _top_k(similarities: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    part = np.argpartition(-similarities, k - 1, axis=1)[:, :k]
    part_sims = np.take_along_axis(similarities, part, axis=1)
    order = np.argsort(-part_sims, axis=1, kind="stable")
    return np.take_along_axis(part, order, axis=1), np.take_along_axis(part_sims, order, axis=1)


def _vote(neighbor_labels: np.ndarray, neighbor_sims: np.ndarray, num_classes: int) -> tuple[np.ndarray, np.ndarray]:
    rows = np.arange(len(neighbor_labels))[:, None]
    counts = np.zeros((len(neighbor_labels), num_classes))
    sims = np.zeros_like(counts)
    np.add.at(counts, (rows, neighbor_labels), 1.0)
    np.add.at(sims, (rows, neighbor_labels), neighbor_sims)
    # Similarity sums are below k, so scaling counts by k+1 makes them the primary key.
    winner = np.argmax(counts * (neighbor_labels.shape[1] + 1) + sims, axis=1)
    return winner, counts[np.arange(len(winner)), winner] / neighbor_labels.shape[1]


def knn_classify(
    queries: np.ndarray, gallery: np.ndarray, gallery_labels: np.ndarray, k: int, num_classes: int
) -> KnnResult:
    if not 1 <= k <= len(gallery):
        raise ValueError(f"k must be between 1 and the gallery size {len(gallery)}, got {k}")
    gallery = np.asarray(gallery, dtype=np.float32)
    results = []
    for start in range(0, len(queries), CHUNK):
        sims = np.asarray(queries[start : start + CHUNK], dtype=np.float32) @ gallery.T
        idx, top_sims = _top_k(sims, k)
        labels, conf = _vote(gallery_labels[idx], top_sims, num_classes)
        results.append((labels, conf, idx, top_sims))
    if not results:
        empty = np.zeros((0, k))
        return KnnResult(np.zeros(0, np.int64), np.zeros(0), empty.astype(np.int64), empty)
    return KnnResult(*(np.concatenate(parts) for parts in zip(*results)))
