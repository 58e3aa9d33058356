"""What a served model answers, in both protocols: the contract between serve/ and its clients.

A batch of model outputs becomes `BatchAnswers` (arrays, one row per image), computed once; the
two protocols only write it differently:

/predictions (one image per request, JSON):
  Classifier:  {"model", "label", "class_id", "confidence", "probabilities": {class: p}, "model_sha256"}
  Embedder:    {"model", "label", "class_id", "confidence", "embedding": [D floats],
                "neighbors": [{"label", "class_id", "similarity"}, ... k], "model_sha256"}
  ("model_sha256", added by the handler, is the sha256 of the model.onnx that answered.)
  Error (4xx): {"error": short code, "detail": what was wrong}

Open Inference Protocol v2 (N images per request, tensors; see robustcifar/serving/v2.py):
  inputs   "pixels" UINT8 [N, 32, 32, 3] RGB, or "image" BYTES [N] (PNG/JPEG files)
  outputs  classifier: "probabilities" FP32 [N, 10], "class_id" INT64 [N], "confidence" FP32 [N],
           "label" BYTES [N]; embedder: "embedding" FP32 [N, D], "class_id", "confidence", "label",
           "neighbor_class_ids" INT64 [N, k], "neighbor_similarities" FP32 [N, k]
  parameters {"model_sha256"}

`answer_probabilities` reads a class distribution back from either kind of answer, for the
benchmark's calibration figures.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .gallery import Gallery
from .knn import knn_classify


def softmax(logits: np.ndarray) -> np.ndarray:
    """Row-wise softmax (here rather than scipy's: the serving workers import this module)."""
    shifted = logits - logits.max(axis=1, keepdims=True)
    exp = np.exp(shifted)
    return exp / exp.sum(axis=1, keepdims=True)


PIXELS_INPUT = "pixels"
IMAGE_INPUT = "image"
CLASSIFIER_OUTPUTS = ("probabilities", "class_id", "confidence", "label")
EMBEDDER_OUTPUTS = ("embedding", "class_id", "confidence", "label", "neighbor_class_ids", "neighbor_similarities")
V2_DATATYPES = {"probabilities": "FP32", "class_id": "INT64", "confidence": "FP32", "label": "BYTES",
                "embedding": "FP32", "neighbor_class_ids": "INT64", "neighbor_similarities": "FP32"}


@dataclass
class BatchAnswers:
    """A model's answers for a batch of images, one row each."""

    class_id: np.ndarray  # int64 (N,)
    confidence: np.ndarray  # float64 (N,): softmax top probability, or the winner's share of the k votes
    probabilities: np.ndarray | None = None  # float64 (N, classes), classifiers
    embedding: np.ndarray | None = None  # float32 (N, D), embedders
    neighbor_class_ids: np.ndarray | None = None  # int64 (N, k), embedders
    neighbor_similarities: np.ndarray | None = None  # float32 (N, k), embedders

    def __len__(self) -> int:
        return len(self.class_id)

    def rows(self, start: int, stop: int) -> BatchAnswers:
        def cut(a: np.ndarray | None) -> np.ndarray | None:
            return None if a is None else a[start:stop]

        return BatchAnswers(self.class_id[start:stop], self.confidence[start:stop], cut(self.probabilities),
                            cut(self.embedding), cut(self.neighbor_class_ids), cut(self.neighbor_similarities))


def classifier_batch(logits: np.ndarray) -> BatchAnswers:
    probabilities = softmax(np.asarray(logits, dtype=np.float64))
    class_id = probabilities.argmax(axis=1).astype(np.int64)
    return BatchAnswers(class_id, probabilities[np.arange(len(class_id)), class_id], probabilities=probabilities)


def embedder_batch(embeddings: np.ndarray, gallery: Gallery, k: int, num_classes: int) -> BatchAnswers:
    knn = knn_classify(embeddings, gallery.embeddings, gallery.labels, k, num_classes)
    return BatchAnswers(knn.labels.astype(np.int64), knn.confidence.astype(np.float64),
                        embedding=np.asarray(embeddings, dtype=np.float32),
                        neighbor_class_ids=gallery.labels[knn.neighbor_indices].astype(np.int64),
                        neighbor_similarities=knn.neighbor_similarities.astype(np.float32))


def json_answers(model_name: str, batch: BatchAnswers, class_names: list[str]) -> list[dict]:
    """The /predictions answers, one dict per image."""
    answers = []
    for i in range(len(batch)):
        class_id = int(batch.class_id[i])
        answer = {"model": model_name, "label": class_names[class_id], "class_id": class_id,
                  "confidence": float(batch.confidence[i])}
        if batch.probabilities is not None:
            answer["probabilities"] = {name: float(p) for name, p in zip(class_names, batch.probabilities[i])}
        else:
            answer["embedding"] = [float(v) for v in batch.embedding[i]]
            answer["neighbors"] = [{"label": class_names[int(c)], "class_id": int(c), "similarity": float(s)}
                                   for c, s in zip(batch.neighbor_class_ids[i], batch.neighbor_similarities[i])]
        answers.append(answer)
    return answers


def output_arrays(batch: BatchAnswers, class_names: list[str]) -> dict[str, np.ndarray]:
    """The v2 output tensors' arrays, by name, in their v2 datatypes' numpy types."""
    labels = np.array([class_names[int(c)].encode() for c in batch.class_id], dtype=object)
    arrays = {"class_id": batch.class_id, "confidence": batch.confidence.astype(np.float32), "label": labels}
    if batch.probabilities is not None:
        arrays["probabilities"] = batch.probabilities.astype(np.float32)
    else:
        arrays.update(embedding=batch.embedding, neighbor_class_ids=batch.neighbor_class_ids,
                      neighbor_similarities=batch.neighbor_similarities)
    return arrays


def classifier_answers(model_name: str, logits: np.ndarray, class_names: list[str]) -> list[dict]:
    return json_answers(model_name, classifier_batch(logits), class_names)


def embedder_answers(model_name: str, embeddings: np.ndarray, gallery: Gallery, k: int,
                     class_names: list[str]) -> list[dict]:
    return json_answers(model_name, embedder_batch(embeddings, gallery, k, len(class_names)), class_names)


def vote_distributions(neighbor_class_ids: np.ndarray, classes: int) -> tuple[np.ndarray, np.ndarray]:
    """(served, for the likelihood) from an embedder's neighbours' classes (N, k): the vote shares,
    and the add-one smoothed votes (votes + 1) / (k + classes), since a class without a vote would
    otherwise have probability 0 and an infinite log-loss."""
    neighbor_class_ids = np.asarray(neighbor_class_ids, dtype=np.int64)
    votes = np.zeros((len(neighbor_class_ids), classes))
    np.add.at(votes, (np.arange(len(neighbor_class_ids))[:, None], neighbor_class_ids), 1.0)
    k = neighbor_class_ids.shape[1]
    return votes / k, (votes + 1) / (k + classes)


def answer_probabilities(answer: dict, class_names: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """(as served, for the likelihood): two (classes,) distributions read from one /predictions answer.

    A classifier's are both its softmax; an embedder's are `vote_distributions` of its neighbours.
    Raises KeyError/ValueError/TypeError on an answer of neither shape.
    """
    if "probabilities" in answer:
        served = np.array([float(answer["probabilities"][name]) for name in class_names])
        return served, served
    neighbors = [int(n["class_id"]) for n in answer["neighbors"]]
    if not neighbors:
        raise ValueError("an embedder answer without neighbours")
    served, likelihoods = vote_distributions(np.array([neighbors]), len(class_names))
    return served[0], likelihoods[0]


def error_body(error: str, detail: str) -> dict:
    return {"error": error, "detail": detail}
