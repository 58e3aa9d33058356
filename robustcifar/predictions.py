"""The JSON the inference endpoints answer with: the contract between serve/ and its clients.

Classifier:  {"model", "label", "class_id", "confidence", "probabilities": {class: p}, "model_sha256"}
Embedder:    {"model", "label", "class_id", "confidence", "embedding": [D floats],
              "neighbors": [{"label", "class_id", "similarity"}, ... k], "model_sha256"}
("model_sha256", added by the handler, is the sha256 of the model.onnx that answered.)
Error (4xx): {"error": short code, "detail": what was wrong}

`answer_probabilities` reads a class distribution back from either kind of answer, for the
benchmark's calibration figures.
"""

from __future__ import annotations

import numpy as np

from .gallery import Gallery
from .knn import knn_classify
from .onnx_model import softmax


def classifier_answers(model_name: str, logits: np.ndarray, class_names: list[str]) -> list[dict]:
    probabilities = softmax(logits.astype(np.float64))
    answers = []
    for row in probabilities:
        class_id = int(np.argmax(row))
        answers.append({
            "model": model_name,
            "label": class_names[class_id],
            "class_id": class_id,
            "confidence": float(row[class_id]),
            "probabilities": {name: float(p) for name, p in zip(class_names, row)},
        })
    return answers


def embedder_answers(
    model_name: str, embeddings: np.ndarray, gallery: Gallery, k: int, class_names: list[str]
) -> list[dict]:
    knn = knn_classify(embeddings, gallery.embeddings, gallery.labels, k, len(class_names))
    answers = []
    for i, embedding in enumerate(embeddings):
        neighbor_labels = gallery.labels[knn.neighbor_indices[i]]
        answers.append({
            "model": model_name,
            "label": class_names[int(knn.labels[i])],
            "class_id": int(knn.labels[i]),
            "confidence": float(knn.confidence[i]),
            "embedding": [float(v) for v in embedding],
            "neighbors": [
                {"label": class_names[int(c)], "class_id": int(c), "similarity": float(s)}
                for c, s in zip(neighbor_labels, knn.neighbor_similarities[i])
            ],
        })
    return answers


def answer_probabilities(answer: dict, class_names: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """(as served, for the likelihood): two (classes,) distributions read from one answer.

    A classifier's are both its softmax. An embedder's served distribution is the share of the k
    neighbours' votes per class (its "confidence" is the winner's share); the likelihood uses the
    vote counts with add-one smoothing, (votes + 1) / (k + classes), since a class without a vote
    would otherwise have probability 0 and an infinite log-loss. Raises KeyError/ValueError/TypeError
    on an answer of neither shape.
    """
    if "probabilities" in answer:
        served = np.array([float(answer["probabilities"][name]) for name in class_names])
        return served, served
    votes = np.zeros(len(class_names))
    for neighbor in answer["neighbors"]:
        votes[int(neighbor["class_id"])] += 1
    k = votes.sum()
    if k == 0:
        raise ValueError("an embedder answer without neighbours")
    return votes / k, (votes + 1) / (k + len(class_names))


def error_body(error: str, detail: str) -> dict:
    return {"error": error, "detail": detail}
