"""Held-out evaluation: classifier accuracy and loss, embedder kNN accuracy, backbone features."""

from __future__ import annotations

import contextlib

import numpy as np
import torch
import torch.nn.functional as F

from robustcifar.classes import NUM_CLASSES
from robustcifar.knn import knn_classify
from robustcifar.model import RobustCifarNet
from robustcifar.provenance import cpu_has_native_bf16

EVAL_BATCH = 500


def bf16_supported(device: torch.device | str = "cpu") -> bool:
    """Whether bf16 autocast pays on `device`: any CUDA GPU, or a CPU with native bf16 (AVX-512 BF16 or AMX).

    Without those instructions oneDNN emulates bf16 on the CPU, which is slower than float32.
    """
    device = torch.device(device)
    if device.type == "cuda":
        return True
    return device.type == "cpu" and cpu_has_native_bf16()


def autocast_for(device: torch.device, bf16: bool):
    """bf16 autocast where asked for and the hardware has it, else plain float32."""
    if bf16 and bf16_supported(device):
        return torch.autocast(device.type, dtype=torch.bfloat16)
    return contextlib.nullcontext()


@torch.no_grad()
def run_model(model: RobustCifarNet, images: torch.Tensor, bf16: bool, features: bool = False) -> torch.Tensor:
    """Outputs (or 512-d backbone features) for uint8 images on the model's device, as float32 on CPU."""
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    outputs = []
    try:
        for start in range(0, len(images), EVAL_BATCH):
            batch = images[start : start + EVAL_BATCH].to(device, non_blocking=True)
            with autocast_for(device, bf16):
                out = model.features(batch) if features else model(batch)
            outputs.append(out.float().cpu())
    finally:
        model.train(was_training)
    if not outputs:
        return torch.zeros(0, NUM_CLASSES)
    return torch.cat(outputs)


def classifier_metrics(model: RobustCifarNet, images: torch.Tensor, labels: torch.Tensor, bf16: bool) -> dict:
    logits = run_model(model, images, bf16)
    labels = labels.cpu()
    return {
        "loss": float(F.cross_entropy(logits, labels)),
        "accuracy": float((logits.argmax(1) == labels).float().mean()),
    }


class Evaluator:
    """Predictions and accuracy of one model on a labelled image set, whatever its kind.

    Embedders are scored by a kNN vote over the embeddings of (a cap of) the training images,
    recomputed each time, since the embedding moves while the model trains.
    """

    def __init__(self, gallery_images: torch.Tensor, gallery_labels: torch.Tensor, k: int, bf16: bool) -> None:
        self.gallery_images = gallery_images
        self.gallery_labels = gallery_labels.cpu().numpy()
        self.k = k
        self.bf16 = bf16
        self._gallery: np.ndarray | None = None

    def refresh(self, model: RobustCifarNet) -> None:
        if model.kind == "embedder":
            self._gallery = run_model(model, self.gallery_images, self.bf16).numpy()

    def predictions(self, model: RobustCifarNet, images: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
        """-> (predicted class int64, confidence float32) per image: the softmax's top probability for a
        classifier, the winner's share of the k votes for an embedder (what the server answers)."""
        if len(images) == 0:
            return np.zeros(0, np.int64), np.zeros(0, np.float32)
        outputs = run_model(model, images, self.bf16)
        if model.kind == "classifier":
            probabilities = torch.softmax(outputs, dim=1)
            confidence, predicted = probabilities.max(dim=1)
            return predicted.numpy().astype(np.int64), confidence.numpy().astype(np.float32)
        assert self._gallery is not None, "call refresh(model) after each change to the model"
        result = knn_classify(outputs.numpy(), self._gallery, self.gallery_labels, self.k, NUM_CLASSES)
        return result.labels.astype(np.int64), result.confidence.astype(np.float32)

    def accuracy(self, model: RobustCifarNet, images: torch.Tensor, labels: torch.Tensor) -> float:
        if len(images) == 0:
            return float("nan")
        predicted, _ = self.predictions(model, images)
        return float(np.mean(predicted == labels.cpu().numpy()))
