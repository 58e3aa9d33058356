"""Talking to a prediction server, in either protocol, from the client's side: the path, the request
bytes, and what a valid answer is. Every client of ours (the benchmark's accuracy pass, the load
generators, Locust, the readiness probe, the health check) asks here.

- PREDICTIONS: TorchServe's /predictions/<model>, one PNG per request, a JSON answer
  (robustcifar/predictions.py). A valid answer is a JSON object with an integer "class_id".
- V2Protocol: the Open Inference Protocol's /v2/models/<model>/infer, N images per request as one
  tensor (binary by default). What to send and read is a `V2Contract`: ours, read from the model's
  metadata (pixels in; class_id with probabilities or neighbours out), or one declared for a server
  that is not ours (an input spec as `make import` takes it, and the output holding logits or
  probabilities). A valid answer has the contract's outputs, one row per image sent.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass

import numpy as np
import requests

from ..classes import CLASS_NAMES
from ..imaging import encode_png
from ..input_spec import InputSpec
from ..predictions import PIXELS_INPUT, answer_probabilities, softmax, vote_distributions
from .v2 import HEADER_LENGTH, Tensor, V2Error, decode_response, encode_request

PROTOCOLS = ("predictions", "v2")
# What our own models take over v2: the pixels as they are.
OUR_PIXELS = InputSpec("NHWC", "uint8", 1.0, (0.0, 0.0, 0.0), (1.0, 1.0, 1.0), "RGB", "probabilities")


@dataclass
class Prediction:
    """One image's answer, or its failure."""

    class_id: int | None  # None when the request failed
    status: int  # HTTP status, or 0 when no answer came
    error: str = ""
    probabilities: np.ndarray | None = None  # (classes,) as served: softmax, or the kNN vote share
    likelihoods: np.ndarray | None = None  # (classes,) for the log-likelihood (smoothed vote share)
    model_sha256: str = ""  # of the model file that answered, as the server says

    @property
    def failure_kind(self) -> str:
        """What the failure report groups by: 'HTTP 400', 'ConnectionError', 'bad answer'..."""
        if self.class_id is not None:
            return ""
        if self.status == 0:
            return self.error or "no answer"
        return f"HTTP {self.status}" if self.status != 200 else (self.error or "answer without a class_id")

    @classmethod
    def failed(cls, count: int, status: int, error: str) -> list[Prediction]:
        return [cls(None, status, error) for _ in range(count)]


def header_value(headers, name: str) -> str | None:
    """A header from a case-insensitive mapping (requests') or a dict of lower-case names (ours)."""
    if not headers:
        return None
    value = headers.get(name)
    return headers.get(name.lower()) if value is None else value


def probe_pixels() -> np.ndarray:
    """The image that readiness checks send (mid-grey): a real prediction, not merely /ping."""
    return np.full((1, 32, 32, 3), 128, dtype=np.uint8)


class PredictionsProtocol:
    name = "predictions"
    images_per_request = 1

    def path(self, model: str) -> str:
        return f"/predictions/{model}"

    def request(self, images: np.ndarray) -> tuple[bytes, dict[str, str]]:
        if len(images) != 1:
            raise ValueError("/predictions takes one image per request")
        return encode_png(images[0]), {"Content-Type": "image/png"}

    def answers(self, status: int, body: bytes, headers, count: int = 1) -> list[Prediction]:
        if status != 200:
            return Prediction.failed(count, status, body[:200].decode(errors="replace"))
        try:
            answer = json.loads(body)
            class_id = int(answer["class_id"])
        except (ValueError, KeyError, TypeError):
            return Prediction.failed(count, 200, "answer without a class_id")
        try:
            served, likelihoods = answer_probabilities(answer, list(CLASS_NAMES))
        except (ValueError, KeyError, TypeError):
            served = likelihoods = None  # an answer without a distribution: counted, not calibrated
        return [Prediction(class_id, 200, "", served, likelihoods, str(answer.get("model_sha256", "")))]

    def is_valid(self, status: int, body: bytes, headers=None) -> bool:
        return self.answers(status, body, headers)[0].class_id is not None


PREDICTIONS = PredictionsProtocol()


@dataclass(frozen=True)
class V2Contract:
    """What one model over v2 takes and answers, as a client needs it."""

    input_name: str = PIXELS_INPUT
    spec: InputSpec = OUR_PIXELS  # uint8 RGB pixels -> the input tensor
    scores: str = "probabilities"  # the output to read per image
    scores_kind: str = "probabilities"  # probabilities | logits | neighbors (an embedder's neighbours' classes)
    class_id: str | None = "class_id"  # the output naming the predicted class (None: argmax of the scores)

    @classmethod
    def from_metadata(cls, metadata: dict) -> V2Contract:
        """Ours: the model's metadata says whether it is a classifier or an embedder."""
        kind = (metadata.get("parameters") or {}).get("kind")
        if kind == "embedder":
            return cls(scores="neighbor_class_ids", scores_kind="neighbors")
        if kind == "classifier":
            return cls()
        raise V2Error(f"model {metadata.get('name')!r}: its metadata names no kind (classifier or embedder); "
                      "declare the contract (--v2-input, --v2-output and the input spec)")

    def outputs(self) -> list[str]:
        return [self.scores] + ([self.class_id] if self.class_id else [])


class V2Protocol:
    name = "v2"

    def __init__(self, contract: V2Contract, images_per_request: int = 64, binary: bool = True) -> None:
        if images_per_request < 1:
            raise ValueError("a v2 request carries at least one image")
        self.contract, self.images_per_request, self.binary = contract, images_per_request, binary

    def path(self, model: str) -> str:
        return f"/v2/models/{model}/infer"

    def request(self, images: np.ndarray) -> tuple[bytes, dict[str, str]]:
        tensor = Tensor.of(self.contract.input_name, self.contract.spec.preprocess(np.asarray(images, np.uint8)))
        return encode_request([tensor], self.contract.outputs(), binary=self.binary, binary_output=self.binary)

    def answers(self, status: int, body: bytes, headers, count: int) -> list[Prediction]:
        if status != 200:
            return Prediction.failed(count, status, body[:200].decode(errors="replace"))
        try:
            document, outputs = decode_response(body, header_value(headers, HEADER_LENGTH))
            scores = outputs[self.contract.scores].data
            if len(scores) != count or (self.contract.class_id and len(outputs[self.contract.class_id].data) != count):
                raise V2Error(f"{len(scores)} answers for {count} images")
        except (V2Error, KeyError) as exc:
            return Prediction.failed(count, 200, f"bad v2 answer: {exc}")
        if self.contract.scores_kind == "neighbors":
            served, likelihoods = vote_distributions(scores, len(CLASS_NAMES))
        else:
            served = np.asarray(scores, np.float64)
            if self.contract.scores_kind == "logits":
                served = softmax(served)
            likelihoods = served
        class_ids = (outputs[self.contract.class_id].data if self.contract.class_id else served.argmax(axis=1))
        sha = str((document.get("parameters") or {}).get("model_sha256", ""))
        return [Prediction(int(c), 200, "", p, q, sha) for c, p, q in zip(class_ids, served, likelihoods)]

    def is_valid(self, status: int, body: bytes, headers=None) -> bool:
        return all(p.class_id is not None for p in self.answers(status, body, headers, self.images_per_request))


def fetch_v2_contract(base_url: str, model: str, headers: dict[str, str] | None = None,
                      timeout: float = 30.0) -> V2Contract:
    """Our model's contract, from GET /v2/models/<model>."""
    response = requests.get(f"{base_url.rstrip('/')}/v2/models/{model}", headers=headers or {}, timeout=timeout)
    if response.status_code != 200:
        raise V2Error(f"no v2 metadata for {model!r} at {base_url} (HTTP {response.status_code}: "
                      f"{response.text[:200]})", response.status_code)
    return V2Contract.from_metadata(response.json())


def describe(protocol) -> dict:
    """A protocol as JSON, for processes that rebuild it (the Locust workers): `from_description`."""
    if protocol.name == "predictions":
        return {"protocol": "predictions"}
    contract = asdict(protocol.contract)
    return {"protocol": "v2", "images_per_request": protocol.images_per_request, "binary": protocol.binary,
            "contract": contract}


def from_description(description: dict):
    if description.get("protocol", "predictions") == "predictions":
        return PREDICTIONS
    contract = dict(description["contract"])
    spec = contract.pop("spec")
    spec = InputSpec(**{**spec, "mean": tuple(spec["mean"]), "std": tuple(spec["std"])})
    return V2Protocol(V2Contract(**contract, spec=spec), description["images_per_request"], description["binary"])


def supports_binary(base_url: str, headers: dict[str, str] | None = None, timeout: float = 30.0) -> bool:
    """Whether the server's metadata (GET /v2) lists the binary tensor data extension (ours and Triton
    do; MLServer's REST API does not, and is sent JSON)."""
    try:
        response = requests.get(f"{base_url.rstrip('/')}/v2", headers=headers or {}, timeout=timeout)
        return response.status_code == 200 and "binary_tensor_data" in (response.json().get("extensions") or [])
    except (requests.RequestException, ValueError, AttributeError):
        return False
