"""One served model in the Open Inference Protocol: its metadata, a request's inputs as pixels, and
its answers as output tensors (the handler's side; the codec is robustcifar/serving/v2.py, the
answers robustcifar/predictions.py). The edge routes the protocol's model paths to the model's
worker and says which operation it asked for in the OP_HEADER (see serve/edge.py)."""

from __future__ import annotations

import json
from dataclasses import dataclass

import numpy as np

from ..imaging import IMAGE_SIZE, ImageInputError, preprocess_image_bytes
from ..predictions import (
    CLASSIFIER_OUTPUTS,
    EMBEDDER_OUTPUTS,
    IMAGE_INPUT,
    PIXELS_INPUT,
    V2_DATATYPES,
    BatchAnswers,
    output_arrays,
)
from .v2 import Tensor, V2Error, decode_request, encode, requested_outputs

OP_HEADER = "X-Robustcifar-V2"  # infer | metadata | ready, set by the edge from the path
VERSION_HEADER = "X-Robustcifar-Version"  # the path's /versions/<v>, if any
VERSION = "1"
OPERATIONS = ("infer", "metadata", "ready")
DEFAULT_MAX_BATCH = 256


@dataclass
class InferJob:
    """A decoded infer request: its pixels, and how to answer it."""

    request_id: str | None
    pixels: np.ndarray  # uint8 (N, 32, 32, 3)
    outputs: list[tuple[str, bool]]  # (name, as binary)


class V2Model:
    def __init__(self, name: str, kind: str, class_names: list[str], model_sha256: str,
                 embedding_dim: int | None = None, knn_k: int | None = None, max_batch: int = DEFAULT_MAX_BATCH):
        self.name, self.kind, self.class_names = name, kind, list(class_names)
        self.model_sha256, self.max_batch = model_sha256, max_batch
        self.output_names = list(CLASSIFIER_OUTPUTS if kind == "classifier" else EMBEDDER_OUTPUTS)
        self.shapes = {"probabilities": [-1, len(class_names)], "class_id": [-1], "confidence": [-1], "label": [-1],
                       "embedding": [-1, embedding_dim or -1], "neighbor_class_ids": [-1, knn_k or -1],
                       "neighbor_similarities": [-1, knn_k or -1]}

    def check_version(self, version: str | None) -> None:
        if version not in (None, "", VERSION):
            raise V2Error(f"model '{self.name}' has no version '{version}' (its one version is {VERSION})", 404)

    def metadata(self) -> dict:
        return {
            "name": self.name, "versions": [VERSION], "platform": "onnxruntime_onnx",
            "inputs": [{"name": PIXELS_INPUT, "datatype": "UINT8", "shape": [-1, IMAGE_SIZE, IMAGE_SIZE, 3]},
                       {"name": IMAGE_INPUT, "datatype": "BYTES", "shape": [-1]}],
            "outputs": [{"name": n, "datatype": V2_DATATYPES[n], "shape": self.shapes[n]} for n in self.output_names],
            "parameters": {"kind": self.kind, "class_names": self.class_names, "max_batch_size": self.max_batch,
                           "model_sha256": self.model_sha256,
                           "inputs": f"exactly one of {PIXELS_INPUT} (RGB pixels) or {IMAGE_INPUT} (PNG/JPEG files)"},
        }

    def metadata_body(self) -> bytes:
        return json.dumps(self.metadata()).encode()

    def parse(self, body: bytes, header_length: str | None) -> InferJob:
        request, inputs = decode_request(body, header_length)
        if len(inputs) != 1 or inputs[0].name not in (PIXELS_INPUT, IMAGE_INPUT):
            names = ", ".join(t.name for t in inputs)
            raise V2Error(f"send exactly one input, '{PIXELS_INPUT}' (UINT8 [N, {IMAGE_SIZE}, {IMAGE_SIZE}, 3]) "
                          f"or '{IMAGE_INPUT}' (BYTES [N] of PNG/JPEG files); got: {names}")
        tensor = inputs[0]
        n = tensor.shape[0] if tensor.shape else 0
        if not 1 <= n <= self.max_batch:
            raise V2Error(f"a request carries 1 to {self.max_batch} images; this one has {n}")
        pixels = self._pixels(tensor)
        request_id = request.get("id")
        return InferJob(request_id if isinstance(request_id, str) else None, pixels,
                        requested_outputs(request, self.output_names))

    def _pixels(self, tensor: Tensor) -> np.ndarray:
        if tensor.name == PIXELS_INPUT:
            expected = (tensor.shape[0], IMAGE_SIZE, IMAGE_SIZE, 3)
            if tensor.datatype != "UINT8" or tensor.shape != expected:
                raise V2Error(f"input '{PIXELS_INPUT}' is UINT8 [N, {IMAGE_SIZE}, {IMAGE_SIZE}, 3] (RGB); got "
                              f"{tensor.datatype} {list(tensor.shape)}")
            return tensor.data
        if tensor.datatype != "BYTES" or len(tensor.shape) != 1:
            raise V2Error(f"input '{IMAGE_INPUT}' is BYTES [N] (one PNG or JPEG file each); got "
                          f"{tensor.datatype} {list(tensor.shape)}")
        pixels = []
        for i, encoded in enumerate(tensor.data):
            try:
                pixels.append(preprocess_image_bytes(encoded))
            except ImageInputError as exc:
                raise V2Error(f"image {i}: {exc.error}: {exc.detail}") from None
        return np.stack(pixels)

    def answer(self, job: InferJob, batch: BatchAnswers) -> tuple[bytes, dict[str, str]]:
        arrays = output_arrays(batch, self.class_names)
        document = {"model_name": self.name, "model_version": VERSION,
                    **({"id": job.request_id} if job.request_id else {}),
                    "parameters": {"model_sha256": self.model_sha256}}
        tensors = [(Tensor.of(name, arrays[name], V2_DATATYPES[name]), binary) for name, binary in job.outputs]
        return encode(document, "outputs", tensors)
