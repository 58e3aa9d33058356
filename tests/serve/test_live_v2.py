"""The Open Inference Protocol v2 of the live server (tests/liveserver.py): health, metadata, readiness,
infer with JSON and binary tensors for batches of 1 to 256 images run as one batch, and every kind of
bad request answered with a v2 4xx ({"error": ...}) while the workers live on. The bad images of the
/predictions suite are sent again as v2 BYTES elements."""

from __future__ import annotations

import base64
import json

import numpy as np
import pytest
import requests
from fakeserving import expected_outputs, metrics_text, png, prometheus_value
from imagecases import BAD_REQUESTS
from liveserver import GOOD_MODELS, MAX_REQUEST_MB

from robustcifar.serving.v2 import HEADER_LENGTH, Tensor, decode_response, encode_request

pytestmark = [pytest.mark.slow, pytest.mark.integration]


def pixels(n: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (n, 32, 32, 3), dtype=np.uint8)


def infer(served, model: str, body: bytes, headers: dict) -> requests.Response:
    return requests.post(f"{served.url}/v2/models/{model}/infer", data=body, headers=headers, timeout=60)


def outputs_of(response: requests.Response) -> tuple[dict, dict]:
    assert response.status_code == 200, response.text[:300]
    document, tensors = decode_response(response.content, response.headers.get(HEADER_LENGTH))
    return document, {name: t.data for name, t in tensors.items()}


@pytest.fixture(scope="module")
def workers_before(served):
    return {name: [w["pid"] for w in served.workers(name)] for name in GOOD_MODELS}


def test_server_health_and_metadata(served):
    for which in ("live", "ready"):  # the bodies KServe's server answers, which its client reads
        response = requests.get(f"{served.url}/v2/health/{which}", timeout=10)
        assert response.status_code == 200 and response.json() == {which: True}
    metadata = requests.get(f"{served.url}/v2", timeout=10).json()
    assert metadata["name"] == "robustcifar" and "binary_tensor_data" in metadata["extensions"]


@pytest.mark.parametrize("model", GOOD_MODELS)
def test_model_metadata_and_readiness(served, model):
    metadata = requests.get(f"{served.url}/v2/models/{model}", timeout=10).json()
    assert metadata["name"] == model and metadata["versions"] == ["1"]
    inputs = {i["name"]: (i["datatype"], i["shape"]) for i in metadata["inputs"]}
    assert inputs == {"pixels": ("UINT8", [-1, 32, 32, 3]), "image": ("BYTES", [-1])}
    outputs = {o["name"]: o["datatype"] for o in metadata["outputs"]}
    if model == "ce_clean":
        assert outputs == {"probabilities": "FP32", "class_id": "INT64", "confidence": "FP32", "label": "BYTES"}
    else:
        assert outputs["embedding"] == "FP32" and outputs["neighbor_class_ids"] == "INT64"
    assert metadata["parameters"]["max_batch_size"] >= 256
    for path in (f"/v2/models/{model}/ready", f"/v2/models/{model}/versions/1/ready"):
        response = requests.get(f"{served.url}{path}", timeout=10)
        assert response.status_code == 200 and response.content == b""


@pytest.mark.parametrize("model", GOOD_MODELS)
@pytest.mark.parametrize("binary", [True, False])
@pytest.mark.parametrize("n", [1, 8, 256])
def test_infer_answers_as_onnxruntime_does(served, model, binary, n):
    images = pixels(n, seed=n)
    body, headers = encode_request([Tensor.of("pixels", images)], binary=binary, binary_output=binary)
    document, outputs = outputs_of(infer(served, model, body, headers))
    assert document["model_name"] == model and len(document["parameters"]["model_sha256"]) == 64
    want = expected_outputs(served.artifacts, model, images)
    assert np.array_equal(outputs["class_id"], want["class_id"])
    assert outputs["confidence"] == pytest.approx(want["confidence"], abs=1e-6)
    if model == "ce_clean":
        assert outputs["probabilities"] == pytest.approx(want["probabilities"], abs=1e-6)
    else:
        assert outputs["embedding"] == pytest.approx(want["embedding"], abs=1e-5)
        assert np.array_equal(outputs["neighbor_class_ids"], want["neighbor_class_ids"])


def test_a_batch_is_one_model_call(served):
    def counters():
        text = metrics_text(served)
        return (prometheus_value(text, "InferenceBatches", "ModelName", "ce_clean"),
                prometheus_value(text, "InferenceBatchImages", "ModelName", "ce_clean"))

    before = counters()
    body, headers = encode_request([Tensor.of("pixels", pixels(64))])
    outputs_of(infer(served, "ce_clean", body, headers))
    after = counters()
    assert (after[0] - before[0], after[1] - before[1]) == (1, 64)


def test_encoded_images_as_bytes_answer_as_their_pixels(served):
    images = pixels(3, seed=5)
    files = np.array([png_of(image) for image in images], dtype=object)
    body, headers = encode_request([Tensor.of("image", files, "BYTES")])
    _, outputs = outputs_of(infer(served, "ce_clean", body, headers))
    assert np.array_equal(outputs["class_id"], expected_outputs(served.artifacts, "ce_clean", images)["class_id"])
    # the same files as base64 in JSON
    document = {"inputs": [{"name": "image", "datatype": "BYTES", "shape": [3], "parameters": {"content_type": "base64"},
                            "data": [base64.b64encode(f).decode() for f in files]}]}
    _, again = outputs_of(infer(served, "ce_clean", json.dumps(document).encode(),
                                {"Content-Type": "application/json"}))
    assert np.array_equal(again["class_id"], outputs["class_id"])


def test_only_the_outputs_asked_for_come_back(served):
    body, headers = encode_request([Tensor.of("pixels", pixels(2))], outputs=["class_id"])
    _, outputs = outputs_of(infer(served, "angular", body, headers))
    assert set(outputs) == {"class_id"}


def png_of(image: np.ndarray) -> bytes:
    from robustcifar.imaging import encode_png

    return encode_png(image)


def json_request(inputs: list[dict], **extra) -> dict:
    return {"data": json.dumps({"inputs": inputs, **extra}).encode(), "headers": {"Content-Type": "application/json"}}


def pixel_tensor(shape, data=None, datatype="UINT8", **extra) -> dict:
    count = int(np.prod(shape))
    return {"name": "pixels", "datatype": datatype, "shape": list(shape),
            "data": data if data is not None else [7] * count, **extra}


def binary_request(header: dict, blob: bytes, header_length: int | None = None) -> dict:
    raw = json.dumps(header).encode()
    return {"data": raw + blob, "headers": {"Content-Type": "application/octet-stream",
                                            HEADER_LENGTH: str(len(raw) if header_length is None else header_length)}}


ONE = [1, 32, 32, 3]
BAD_V2 = {
    # name: (request options, expected status, words the error must contain)
    "not_json": ({"data": b"{not json", "headers": {"Content-Type": "application/json"}}, 400, "not valid"),
    "empty_body": ({"data": b"", "headers": {"Content-Type": "application/json"}}, 400, "no JSON body"),
    "json_array": ({"data": b"[1, 2]", "headers": {"Content-Type": "application/json"}}, 400, "object"),
    "no_inputs": (json_request([]), 400, "non-empty list"),
    "unknown_input": (json_request([{**pixel_tensor(ONE), "name": "picture"}]), 400, "exactly one input"),
    "two_inputs": (json_request([pixel_tensor(ONE), {**pixel_tensor(ONE), "name": "image"}]), 400, "exactly one"),
    "unknown_datatype": (json_request([pixel_tensor(ONE, datatype="UINT7")]), 400, "unknown datatype"),
    "wrong_datatype": (json_request([pixel_tensor(ONE, datatype="FP32")]), 400, "UINT8 [N, 32, 32, 3]"),
    "wrong_shape": (json_request([pixel_tensor([1, 16, 16, 3])]), 400, "UINT8 [N, 32, 32, 3]"),
    "negative_shape": (json_request([pixel_tensor([-1, 32, 32, 3], data=[1])]), 400, "shape"),
    "too_few_elements": (json_request([pixel_tensor(ONE, data=[1, 2, 3])]), 400, "data elements"),
    "too_many_elements": (json_request([pixel_tensor(ONE, data=[1] * 4000)]), 400, "data elements"),
    "out_of_range": (json_request([pixel_tensor(ONE, data=[256] * 3072)]), 400, "lie in [0, 255]"),
    "floats_for_uint8": (json_request([pixel_tensor(ONE, data=[0.5] * 3072)]), 400, "integers"),
    "strings_for_uint8": (json_request([pixel_tensor(ONE, data=["a"] * 3072)]), 400, "integers"),
    "ragged_data": (json_request([pixel_tensor(ONE, data=[[1, 2], [3]])]), 400, "regular array"),
    "no_data": (json_request([{"name": "pixels", "datatype": "UINT8", "shape": ONE}]), 400, "neither"),
    "empty_batch": (json_request([pixel_tensor([0, 32, 32, 3], data=[])]), 400, "1 to"),
    "batch_above_the_limit": (binary_request({"inputs": [{"name": "pixels", "datatype": "UINT8",
                                                          "shape": [257, 32, 32, 3],
                                                          "parameters": {"binary_data_size": 257 * 3072}}]},
                                             bytes(257 * 3072)), 400, "1 to 256"),
    "unknown_output": (json_request([pixel_tensor(ONE)], outputs=[{"name": "logits"}]), 400, "unknown output"),
    "header_length_past_the_body": (binary_request({"inputs": []}, b"", header_length=10_000), 400, "but the body"),
    "header_length_not_a_number": ({"data": b"{}", "headers": {HEADER_LENGTH: "ten"}}, 400, "not an integer"),
    "binary_size_past_the_body": (binary_request({"inputs": [{**pixel_tensor(ONE, data=None), "data": None,
                                                             "parameters": {"binary_data_size": 3072}}]},
                                                 bytes(100)), 400, "past the end"),
    "binary_size_not_the_shape": (binary_request({"inputs": [{"name": "pixels", "datatype": "UINT8", "shape": ONE,
                                                             "parameters": {"binary_data_size": 100}}]},
                                                 bytes(100)), 400, "3072 bytes"),
    "bytes_after_the_tensors": (binary_request({"inputs": [{"name": "pixels", "datatype": "UINT8", "shape": ONE,
                                                           "parameters": {"binary_data_size": 3072}}]},
                                               bytes(3100)), 400, "after the last tensor"),
    "bytes_element_lies": (binary_request({"inputs": [{"name": "image", "datatype": "BYTES", "shape": [1],
                                                      "parameters": {"binary_data_size": 8}}]},
                                          (1000).to_bytes(4, "little") + b"abcd"), 400, "says 1000 bytes"),
    "bad_base64": (json_request([{"name": "image", "datatype": "BYTES", "shape": [1], "data": ["%%%"],
                                  "parameters": {"content_type": "base64"}}]), 400, "base64"),
    "body_above_max_request_size": ({"data": b"{" + bytes(int(MAX_REQUEST_MB * 1024 * 1024) + 1000),
                                     "headers": {"Content-Type": "application/json"}}, 413, "exceeds"),
}


@pytest.mark.parametrize("kind", BAD_V2)
def test_bad_v2_requests_get_a_v2_error_and_the_worker_survives(served, workers_before, kind):
    options, status, words = BAD_V2[kind]
    response = requests.post(f"{served.url}/v2/models/ce_clean/infer", timeout=60, **options)
    assert response.status_code == status, response.text[:300]
    assert response.headers["Content-Type"].startswith("application/json")
    body = response.json()
    assert isinstance(body.get("error"), str) and words in json.dumps(body), body
    assert_v2_still_answers(served)


def bad_image_cases():
    for name, (options, _status, error) in BAD_REQUESTS.items():
        data = options.get("data")
        if isinstance(data, bytes) and len(data) < MAX_REQUEST_MB * 1024 * 1024 / 2:
            yield pytest.param(data, error, id=name)


@pytest.mark.parametrize(("file", "error"), list(bad_image_cases()))
def test_the_bad_images_of_predictions_are_v2_errors_too(served, workers_before, file, error):
    body, headers = encode_request([Tensor.of("image", np.array([png(1), file], dtype=object), "BYTES")])
    response = infer(served, "ce_clean", body, headers)
    assert response.status_code == 400, response.text[:300]
    message = response.json()["error"]
    assert message.startswith("image 1:") and error in message
    assert_v2_still_answers(served)


@pytest.mark.parametrize(("method", "path", "status"), [
    ("GET", "/v2/models/ce_clean/infer", 405), ("DELETE", "/v2/models/ce_clean", 405),
    ("POST", "/v2/models/ce_clean/ready", 405), ("GET", "/v2/models/no_such_model", 404),
    ("POST", "/v2/models/no_such_model/infer", 404), ("GET", "/v2/models/ce_clean/versions/7", 404),
    ("GET", "/v2/repository/index", 404), ("POST", "/v2/health/live", 405)])
def test_methods_paths_and_unknown_models_are_v2_errors(served, method, path, status):
    response = requests.request(method, f"{served.url}{path}", timeout=30)
    assert response.status_code == status, response.text
    assert isinstance(response.json()["error"], str)


def test_no_worker_died_answering_the_bad_v2_requests(served, workers_before):
    assert {name: [w["pid"] for w in served.workers(name)] for name in GOOD_MODELS} == workers_before


def assert_v2_still_answers(served) -> None:
    body, headers = encode_request([Tensor.of("pixels", pixels(2))])
    assert infer(served, "ce_clean", body, headers).status_code == 200
