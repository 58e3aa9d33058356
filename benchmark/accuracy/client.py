"""A concurrent HTTP client for the prediction endpoints.

Keep-alive sessions, one per thread of a pool that lives as long as the client, so the connections
are kept from one batch of requests (one benchmark cell) to the next. Only a connection that could
not be opened (refused, or timed out while connecting) is retried, with backoff: that request never
reached the server, so sending it again cannot count it twice. Any answer, a 4xx or a 5xx included,
is final and is counted as a failed request, never silently re-sent or dropped; so is a connection
lost after the request went out, and a read timeout (the server may have been working on it).

An answer keeps its class distribution (see robustcifar.predictions.answer_probabilities) for the
calibration figures.
"""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Self

import numpy as np
import requests
from tqdm import tqdm
from urllib3.exceptions import NewConnectionError

from robustcifar.classes import CLASS_NAMES
from robustcifar.predictions import answer_probabilities


class EndpointUnreachable(RuntimeError):
    pass


@dataclass
class Prediction:
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
        return f"HTTP {self.status}" if self.status != 200 else "answer without a class_id"


def never_sent(exc: requests.RequestException) -> bool:
    """True when the connection could not be opened, so the request never left this machine."""
    if isinstance(exc, requests.ConnectTimeout):
        return True
    reason = getattr(exc.args[0], "reason", None) if exc.args else None
    return isinstance(exc, requests.ConnectionError) and isinstance(reason, NewConnectionError)


class PredictionClient:
    def __init__(self, base_url: str, concurrency: int = 16, timeout: float = 30.0, retries: int = 3,
                 token: str | None = None, backoff_s: float = 0.2) -> None:
        self.base_url = base_url.rstrip("/")
        self.concurrency = concurrency
        self.timeout = timeout
        self.retries = retries
        self.backoff_s = backoff_s
        self.headers = {"Content-Type": "image/png"}
        if token:
            self.headers["Authorization"] = f"Bearer {token}"
        self._local = threading.local()
        self._pool: ThreadPoolExecutor | None = None

    def _executor(self) -> ThreadPoolExecutor:
        if self._pool is None:
            self._pool = ThreadPoolExecutor(self.concurrency, thread_name_prefix="prediction-client")
        return self._pool

    def close(self) -> None:
        """Stop the threads (and so drop their connections); the client starts new ones if used again."""
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _session(self) -> requests.Session:
        if not hasattr(self._local, "session"):
            self._local.session = requests.Session()
        return self._local.session

    def check_reachable(self) -> None:
        try:
            requests.get(f"{self.base_url}/ping", timeout=5)
        except requests.RequestException as exc:
            raise EndpointUnreachable(
                f"nothing answers at {self.base_url} ({type(exc).__name__}); start the server with `make serve` "
                "or pass --url"
            ) from None

    def predict(self, model: str, body: bytes) -> Prediction:
        url = f"{self.base_url}/predictions/{model}"
        for attempt in range(self.retries + 1):
            try:
                response = self._session().post(url, data=body, headers=self.headers, timeout=self.timeout)
            except requests.RequestException as exc:
                if never_sent(exc) and attempt < self.retries:
                    time.sleep(self.backoff_s * 2**attempt)
                    continue
                return Prediction(None, 0, type(exc).__name__)
            if response.status_code != 200:
                return Prediction(None, response.status_code, response.text[:200])
            try:
                answer = response.json()
                class_id = int(answer["class_id"])
            except (ValueError, KeyError, TypeError):
                return Prediction(None, 200, "answer without a class_id")
            try:
                served, likelihoods = answer_probabilities(answer, list(CLASS_NAMES))
            except (ValueError, KeyError, TypeError):
                served = likelihoods = None  # an answer without a distribution: counted, not calibrated
            return Prediction(class_id, 200, "", served, likelihoods, str(answer.get("model_sha256", "")))
        raise AssertionError("unreachable")

    def predict_many(self, model: str, bodies: list[bytes], desc: str = "", progress: bool = True) -> list[Prediction]:
        results = self._executor().map(lambda body: self.predict(model, body), bodies)
        return list(tqdm(results, total=len(bodies), desc=desc, unit="req", disable=not progress, leave=False))
