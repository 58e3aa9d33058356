"""The handler without TorchServe: a fake context, a real exported model, real image bytes."""

import json
import logging

import numpy as np
import pytest
import torch

from export.onnx_export import export_onnx
from robustcifar.artifacts import ModelMeta
from robustcifar.classes import CLASS_NAMES
from robustcifar.gallery import Gallery
from robustcifar.imaging import encode_png
from robustcifar.model import RobustCifarNet
from robustcifar.onnx_model import OnnxModel
from robustcifar.predictions import softmax
from serve.handler import RobustCifarHandler


class FakeContext:
    """What the handler uses of TorchServe's context: request headers per request index (as the
    frontend passes them), statuses, content types and headers of the answers."""

    def __init__(self, model_dir, headers=None, model_yaml_config=None):
        self.system_properties = {"model_dir": str(model_dir)}
        self.model_yaml_config = model_yaml_config or {}
        self.request_headers = headers or {}
        self.statuses, self.content_types, self.response_headers = {}, {}, {}

    def get_all_request_header(self, idx):
        return self.request_headers.get(idx, {})

    def set_response_header(self, idx, key, value):
        self.response_headers.setdefault(idx, {})[key] = value

    def get_request_id(self, idx):
        return f"req-{idx}"

    def set_response_status(self, code, phrase, idx):
        self.statuses[idx] = (code, phrase)

    def set_response_content_type(self, idx, value):
        self.content_types[idx] = value


def make_model_dir(tmp_path, kind):
    torch.manual_seed(0)
    export_onnx(RobustCifarNet(kind).eval(), tmp_path / "model.onnx")
    meta = ModelMeta(name=f"test_{kind}", kind=kind, class_names=list(CLASS_NAMES),
                     output_name="logits" if kind == "classifier" else "embedding", onnx_sha256="x", knn_k=3)
    meta.save(tmp_path / "meta.json")
    if kind == "embedder":
        rng = np.random.default_rng(0)
        emb = rng.normal(size=(50, 128)).astype(np.float32)
        Gallery(emb / np.linalg.norm(emb, axis=1, keepdims=True), rng.integers(0, 10, 50)).save(tmp_path / "gallery.npz")
    return tmp_path


@pytest.fixture(scope="module", params=["classifier", "embedder"])
def handler_and_dir(request, tmp_path_factory):
    model_dir = make_model_dir(tmp_path_factory.mktemp(request.param), request.param)
    handler = RobustCifarHandler()
    handler.initialize(FakeContext(model_dir))
    return handler, model_dir


IMAGES = np.random.default_rng(1).integers(0, 256, (3, 32, 32, 3), dtype=np.uint8)


def test_batch_answers_match_onnxruntime(handler_and_dir):
    handler, model_dir = handler_and_dir
    context = FakeContext(model_dir)
    rows = [{"body": encode_png(IMAGES[0])}, {"data": encode_png(IMAGES[1])}, {"body": encode_png(IMAGES[2])}]
    answers = [json.loads(a) for a in handler.handle(rows, context)]
    direct = OnnxModel(model_dir / "model.onnx").run(IMAGES)
    assert context.statuses == {} and set(context.content_types.values()) == {"application/json"}
    for answer, expected in zip(answers, direct):
        if handler.meta.kind == "classifier":
            probabilities = softmax(expected[None].astype(np.float64))[0]
            assert answer["class_id"] == int(np.argmax(expected))
            assert answer["label"] == CLASS_NAMES[answer["class_id"]]
            assert [answer["probabilities"][c] for c in CLASS_NAMES] == pytest.approx(probabilities.tolist(), abs=1e-6)
        else:
            assert answer["embedding"] == pytest.approx(expected.tolist(), abs=1e-6)
            assert len(answer["neighbors"]) == 3 and 0 < answer["confidence"] <= 1


def test_bad_request_in_a_batch_gets_its_own_400(handler_and_dir):
    handler, model_dir = handler_and_dir
    context = FakeContext(model_dir)
    answers = handler.handle([{"body": b"junk"}, {"body": encode_png(IMAGES[0])}, {"other": b"x"}], context)
    assert context.statuses[0][0] == 400 and json.loads(answers[0])["error"] == "unsupported_image"
    assert 1 not in context.statuses and "label" in json.loads(answers[1])
    assert context.statuses[2][0] == 400 and json.loads(answers[2])["error"] == "missing_image"


class CountingMetrics:
    def __init__(self):
        self.counters = {}

    def add_counter(self, name, value, idx=None, dimensions=None):
        self.counters[name] = self.counters.get(name, 0) + value


@pytest.mark.parametrize("row", [{}, {"body": b""}, {"data": b""}, {"body": bytearray()}])
def test_an_empty_request_is_named_as_such(handler_and_dir, row):
    handler, model_dir = handler_and_dir
    context = FakeContext(model_dir)
    answer = json.loads(handler.handle([row], context)[0])
    assert context.statuses[0][0] == 400 and answer == {"error": "empty_body", "detail": answer["detail"]}


def test_batches_and_their_images_are_counted(handler_and_dir):
    handler, model_dir = handler_and_dir
    context = FakeContext(model_dir)
    context.metrics = CountingMetrics()
    handler.handle([{"body": encode_png(IMAGES[0])}, {"body": b"junk"}, {"body": encode_png(IMAGES[1])}], context)
    handler.handle([{"body": encode_png(IMAGES[2])}], context)
    handler.handle([{"body": b"junk"}], context)  # nothing reached the network: no batch
    assert context.metrics.counters == {"InferenceBatches": 2, "InferenceBatchImages": 3}


def test_a_failure_of_ours_is_a_500_per_request_logged_once(handler_and_dir, monkeypatch, caplog):
    handler, model_dir = handler_and_dir
    context = FakeContext(model_dir)

    def broken_run(pixels):
        raise RuntimeError("onnxruntime fell over")

    monkeypatch.setattr(handler.model, "run", broken_run)
    with caplog.at_level(logging.INFO, logger="serve.handler"):
        answers = handler.handle([{"body": encode_png(IMAGES[0])}, {"body": b"junk"}, {"body": encode_png(IMAGES[1])}],
                                 context)
    bodies = [json.loads(a) for a in answers]
    assert context.statuses[0] == (500, "internal_error") and context.statuses[2] == (500, "internal_error")
    assert bodies[0]["error"] == "internal_error" and "req-0" in bodies[0]["detail"] and "req-2" in bodies[2]["detail"]
    assert context.statuses[1][0] == 400 and bodies[1]["error"] == "unsupported_image"
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1 and errors[0].exc_info is None
    message = errors[0].getMessage()
    assert "req-0,req-2" in message and "RuntimeError: onnxruntime fell over" in message
    assert "test_handler.py" in message and "\n" not in message
    assert set(context.content_types.values()) == {"application/json"}
