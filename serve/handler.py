"""TorchServe handler for every robustcifar model, classifier or embedder, running onnxruntime.

TorchServe copies this file into each model archive; everything else it needs comes from the
`robustcifar` package installed next to TorchServe, and from the archive (model.onnx, meta.json,
gallery.npz). It answers both protocols the edge routes to it: /predictions (one image per
request) and the Open Inference Protocol v2 (metadata, readiness, and infer with N images per
request; the edge names the operation in a header). Requests that TorchServe batched together are
decoded one by one (a bad one gets its own 4xx answer and does not affect the others), and all
their images run through the network as one batch: one onnxruntime call.

A failure of our own code (not of the input) answers every request of the batch with a JSON 500
and is logged once, on one line, with the request ids: TorchServe's default would log a full
traceback per failure and answer 503 "Prediction failed", which reads like an overload.
"""

from __future__ import annotations

import json
import logging
import os
import traceback
from http import HTTPStatus
from pathlib import Path

import numpy as np
from PIL import Image, ImageFile

from robustcifar.artifacts import ModelMeta, sha256_file
from robustcifar.gallery import Gallery
from robustcifar.imaging import MAX_PIXELS, ImageInputError, preprocess_image_bytes
from robustcifar.onnx_model import providers_from_environment, worker_session
from robustcifar.predictions import classifier_batch, embedder_batch, error_body, json_answers
from robustcifar.serving.v2 import HEADER_LENGTH, JSON_TYPE, V2Error
from robustcifar.serving.v2 import error_body as v2_error_body
from robustcifar.serving.v2_model import DEFAULT_MAX_BATCH, OP_HEADER, VERSION_HEADER, V2Model
from robustcifar.worker_settings import THREADS_ENV

logger = logging.getLogger(__name__)
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


def request_body(row: dict) -> bytes:
    """The raw body of a v2 request (JSON, or JSON and binary tensors)."""
    value = row.get("body", row.get("data")) if row else None
    if isinstance(value, str):
        return value.encode()
    return bytes(value) if isinstance(value, (bytes, bytearray)) else b""


def request_header(context, idx: int, name: str) -> str | None:
    """A request header, whatever case the frontend kept it in."""
    if context is None:
        return None
    wanted = name.lower()
    for key, value in (context.get_all_request_header(idx) or {}).items():
        if key.lower() == wanted:
            return value.decode() if isinstance(value, (bytes, bytearray)) else str(value)
    return None


def max_batch_images(context) -> int:
    """The v2 batch limit, from the archive's model-config.yaml (serve/archives.py writes it)."""
    settings = (getattr(context, "model_yaml_config", None) or {}).get("robustcifar") or {}
    return int(settings.get("max_batch_images", DEFAULT_MAX_BATCH))


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
        self.v2 = V2Model(self.meta.name, self.meta.kind, self.meta.class_names, self.model_sha256,
                          self.meta.embedding_dim, self.meta.knn_k, max_batch_images(context))
        self.initialized = True
        logger.info("loaded %s (%s), onnxruntime threads=%d", self.meta.name, self.meta.kind, threads)

    def _run(self, pixels: np.ndarray):
        outputs = self.model.run(pixels)
        if self.gallery is None:
            return classifier_batch(outputs)
        return embedder_batch(outputs, self.gallery, self.meta.knn_k, len(self.meta.class_names))

    def _predictions_answer(self, batch) -> str:
        (answer,) = json_answers(self.meta.name, batch, self.meta.class_names)
        answer["model_sha256"] = self.model_sha256
        return json.dumps(answer)

    def _reject(self, context, idx: int, exc: ImageInputError) -> str:
        request_id = context.get_request_id(idx) if context else None
        logger.warning("request %s rejected: %s: %s", request_id, exc.error, exc.detail)
        if context is not None:
            context.set_response_status(exc.status, exc.error, idx)
        return json.dumps(error_body(exc.error, exc.detail))

    def _reject_v2(self, context, idx: int, exc: V2Error) -> bytes:
        request_id = context.get_request_id(idx) if context else None
        logger.warning("v2 request %s rejected (%d): %s", request_id, exc.status, exc.message)
        if context is not None:
            context.set_response_status(exc.status, HTTPStatus(exc.status).phrase, idx)
        return v2_error_body(exc.message)

    def _fail(self, context, indices: list[int], exc: Exception, v2: set[int] = frozenset()) -> list[str | bytes]:
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
            answers.append(v2_error_body(detail) if idx in v2 else json.dumps(error_body("internal_error", detail)))
        return answers

    def _count_batch(self, context, images: int) -> None:
        metrics = getattr(context, "metrics", None)
        if metrics is not None:
            metrics.add_counter(BATCHES_METRIC, 1, dimensions=[])
            metrics.add_counter(BATCHED_IMAGES_METRIC, images, dimensions=[])

    def handle(self, data: list[dict], context) -> list[str | bytes]:
        results: list[str | bytes | None] = [None] * len(data)
        content_types = [JSON_TYPE] * len(data)
        extra_headers: list[dict[str, str]] = [{} for _ in data]
        work, chunks, v2 = [], [], set()  # (request index, its InferJob or None for /predictions)
        for idx, row in enumerate(data):
            operation = request_header(context, idx, OP_HEADER)
            try:
                if not operation:
                    chunks.append(preprocess_image_bytes(request_image_bytes(row))[None])
                    work.append((idx, None))
                    continue
                v2.add(idx)
                self.v2.check_version(request_header(context, idx, VERSION_HEADER))
                if operation == "metadata":
                    results[idx] = self.v2.metadata_body()
                elif operation == "ready":
                    results[idx] = b""
                elif operation == "infer":
                    job = self.v2.parse(request_body(row), request_header(context, idx, HEADER_LENGTH))
                    chunks.append(job.pixels)
                    work.append((idx, job))
                else:
                    raise V2Error(f"unknown operation {operation!r}", 404)
            except ImageInputError as exc:
                results[idx] = self._reject(context, idx, exc)
            except V2Error as exc:
                results[idx] = self._reject_v2(context, idx, exc)
            except Exception as exc:  # noqa: BLE001 - a decoder bug must not take the batch down
                results[idx] = self._fail(context, [idx], exc, v2)[0]
        if chunks:
            try:
                batch = self._run(np.concatenate(chunks))
                self._count_batch(context, len(batch))
                start, answers = 0, []
                for idx, job in work:
                    size = 1 if job is None else len(job.pixels)
                    rows, start = batch.rows(start, start + size), start + size
                    if job is None:
                        answers.append((idx, self._predictions_answer(rows), {}))
                    else:
                        body, headers = self.v2.answer(job, rows)
                        answers.append((idx, body, headers))
            except Exception as exc:  # noqa: BLE001 - answered as 500s, logged once
                indices = [idx for idx, _ in work]
                answers = [(idx, answer, {}) for idx, answer in zip(indices, self._fail(context, indices, exc, v2))]
            for idx, answer, headers in answers:
                results[idx] = answer
                content_types[idx] = headers.pop("Content-Type", JSON_TYPE)
                extra_headers[idx] = headers
        if context is not None:
            for idx in range(len(data)):
                context.set_response_content_type(idx, content_types[idx])
                for key, value in extra_headers[idx].items():
                    context.set_response_header(idx, key, value)
        return results


_service = RobustCifarHandler()


def handle(data, context):
    """TorchServe's module-level entry point."""
    if not _service.initialized:
        _service.initialize(context)
    if data is None:
        return None
    return _service.handle(data, context)
