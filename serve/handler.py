"""TorchServe handler for every robustcifar model, classifier or embedder, running onnxruntime.

TorchServe copies this file into each model archive; everything else it needs comes from the
`robustcifar` package installed next to TorchServe, and from the archive (model.onnx, meta.json,
gallery.npz). Requests that TorchServe batched together are decoded one by one (a bad one gets
its own 4xx answer and does not affect the others) and run through the network as one batch.

A failure of our own code (not of the input) answers every request of the batch with a JSON 500
and is logged once, on one line, with the request ids: TorchServe's default would log a full
traceback per failure and answer 503 "Prediction failed", which reads like an overload.
"""

from __future__ import annotations

import json
import logging
import os
import traceback
from pathlib import Path

import numpy as np
from PIL import Image, ImageFile

from robustcifar.artifacts import ModelMeta, sha256_file
from robustcifar.gallery import Gallery
from robustcifar.imaging import MAX_PIXELS, ImageInputError, preprocess_image_bytes
from robustcifar.onnx_model import providers_from_environment, worker_session
from robustcifar.predictions import classifier_answers, embedder_answers, error_body
from robustcifar.worker_settings import THREADS_ENV

logger = logging.getLogger(__name__)
JSON = "application/json"
# Multipart field names accepted for the image; "data" is the documented one.
IMAGE_FIELDS = ("data", "file", "image")
# Custom Prometheus counters (declared in serve/metrics.yaml): their ratio is the mean batch size.
BATCHES_METRIC = "InferenceBatches"
BATCHED_IMAGES_METRIC = "InferenceBatchImages"


def request_image_bytes(row: dict) -> bytes:
    """The image bytes of one request: its raw body, or the `data` field of a multipart form."""
    if not row or all(not value for value in row.values()):
        raise ImageInputError("empty_body", "the request carried no image bytes")
    for key in ("body", *IMAGE_FIELDS):
        value = row.get(key)
        if value is not None:
            if isinstance(value, (bytes, bytearray)):
                return bytes(value)
            if isinstance(value, str):
                return value.encode("utf-8", errors="replace")
            raise ImageInputError("unsupported_body", "expected the bytes of a PNG or JPEG image")
    fields = ", ".join(sorted(row)) or "none"
    raise ImageInputError("missing_image", f"send the image as the request body or a multipart field 'data' (got fields: {fields})")


class RobustCifarHandler:
    def __init__(self) -> None:
        self.initialized = False

    def initialize(self, context) -> None:
        # Pillow's own limits, set explicitly in the serving process: no truncated image is ever
        # "repaired", and its bomb check agrees with ours (preprocess_image_bytes checks first).
        Image.MAX_IMAGE_PIXELS = MAX_PIXELS
        ImageFile.LOAD_TRUNCATED_IMAGES = False
        model_dir = Path(context.system_properties["model_dir"])
        self.meta = ModelMeta.load(model_dir / "meta.json")
        threads = int(os.environ.get(THREADS_ENV, "1"))
        # $ROBUSTCIFAR_ORT_PROVIDER=cuda makes this raise when CUDA cannot run, rather than
        # letting onnxruntime fall back to the CPU without a word.
        self.model = worker_session(model_dir / "model.onnx", threads, providers_from_environment())
        self.gallery = Gallery.load(model_dir / "gallery.npz") if self.meta.kind == "embedder" else None
        # every answer names the exact model file that made it, so a benchmark records what answered
        self.model_sha256 = sha256_file(model_dir / "model.onnx")
        self.initialized = True
        logger.info("loaded %s (%s), onnxruntime threads=%d", self.meta.name, self.meta.kind, threads)

    def _answers(self, pixels: np.ndarray) -> list[dict]:
        outputs = self.model.run(pixels)
        if self.gallery is None:
            answers = classifier_answers(self.meta.name, outputs, self.meta.class_names)
        else:
            answers = embedder_answers(self.meta.name, outputs, self.gallery, self.meta.knn_k, self.meta.class_names)
        for answer in answers:
            answer["model_sha256"] = self.model_sha256
        return answers

    def _reject(self, context, idx: int, exc: ImageInputError) -> str:
        request_id = context.get_request_id(idx) if context else None
        logger.warning("request %s rejected: %s: %s", request_id, exc.error, exc.detail)
        if context is not None:
            context.set_response_status(exc.status, exc.error, idx)
        return json.dumps(error_body(exc.error, exc.detail))

    def _fail(self, context, indices: list[int], exc: Exception) -> list[str]:
        """A failure of ours, not of the input: a 500 for each request in `indices`, logged once."""
        request_ids = [context.get_request_id(idx) if context else None for idx in indices]
        frame = traceback.extract_tb(exc.__traceback__)[-1] if exc.__traceback__ else None
        where = f" (at {Path(frame.filename).name}:{frame.lineno})" if frame else ""
        # One line, no traceback: the request ids tie it to the clients' 500s.
        logger.error("%s failed on request(s) %s: %s: %s%s", self.meta.name,
                     ",".join(str(r) for r in request_ids), type(exc).__name__, exc, where)
        answers = []
        for idx, request_id in zip(indices, request_ids):
            if context is not None:
                context.set_response_status(500, "internal_error", idx)
            detail = f"the model failed on this request (request id {request_id}); the server log has the cause"
            answers.append(json.dumps(error_body("internal_error", detail)))
        return answers

    def _count_batch(self, context, images: int) -> None:
        metrics = getattr(context, "metrics", None)
        if metrics is not None:
            metrics.add_counter(BATCHES_METRIC, 1, dimensions=[])
            metrics.add_counter(BATCHED_IMAGES_METRIC, images, dimensions=[])

    def handle(self, data: list[dict], context) -> list[str]:
        results: list[str | None] = [None] * len(data)
        accepted, pixels = [], []
        for idx, row in enumerate(data):
            try:
                pixels.append(preprocess_image_bytes(request_image_bytes(row)))
                accepted.append(idx)
            except ImageInputError as exc:
                results[idx] = self._reject(context, idx, exc)
            except Exception as exc:  # noqa: BLE001 - a decoder bug must not take the batch down
                results[idx] = self._fail(context, [idx], exc)[0]
        if pixels:
            try:
                answers = [json.dumps(answer) for answer in self._answers(np.stack(pixels))]
                self._count_batch(context, len(pixels))
            except Exception as exc:  # noqa: BLE001 - answered as 500s, logged once
                answers = self._fail(context, accepted, exc)
            for idx, answer in zip(accepted, answers):
                results[idx] = answer
        if context is not None:
            for idx in range(len(data)):
                context.set_response_content_type(idx, JSON)
        return results


_service = RobustCifarHandler()


def handle(data, context):
    """TorchServe's module-level entry point."""
    if not _service.initialized:
        _service.initialize(context)
    if data is None:
        return None
    return _service.handle(data, context)
