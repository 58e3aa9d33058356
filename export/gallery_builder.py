"""An embedder's kNN gallery: the training images' embeddings, computed by the exported model.

Computing them through model.onnx (not PyTorch) means the server compares like with like.
"""

from __future__ import annotations

import numpy as np
from tqdm import tqdm

from robustcifar.datasets import CifarArrays, capped_balanced_indices, training_selection
from robustcifar.gallery import Gallery
from robustcifar.onnx_model import OnnxModel

BATCH = 256


def gallery_indices(data: CifarArrays, selection: dict) -> np.ndarray:
    train_idx, _ = training_selection(
        data.train_labels, selection["train_fraction"], selection["max_train_images"], selection["seed"]
    )
    keep = capped_balanced_indices(data.train_labels[train_idx], selection["knn_gallery_max"], selection["seed"])
    return train_idx[keep]


def build_gallery(onnx_model: OnnxModel, data: CifarArrays, selection: dict, progress: bool = True) -> Gallery:
    indices = gallery_indices(data, selection)
    chunks = []
    for start in tqdm(range(0, len(indices), BATCH), desc="gallery embeddings", unit="batch",
                      disable=not progress, leave=False):
        chunks.append(onnx_model.run(data.train_images[indices[start : start + BATCH]]))
    return Gallery(np.concatenate(chunks).astype(np.float32), data.train_labels[indices])
