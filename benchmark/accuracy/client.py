"""A concurrent HTTP client for the accuracy pass, in either protocol (robustcifar/serving/protocols.py).

Keep-alive sessions, one per thread of a pool that lives as long as the client, so the connections
are kept from one benchmark cell to the next. A cell's images go out as the protocol sends them:
one PNG per /predictions request, or batches of `images_per_request` in one v2 request. Only a
connection that could not be opened (refused, or timed out while connecting) is retried, with
backoff: that request never reached the server, so sending it again cannot count it twice. Any
answer, a 4xx or a 5xx included, is final and counts every image of the request as failed, never
silently re-sent or dropped; so is a connection lost after the request went out, and a read
timeout (the server may have been working on it).

An answer keeps its class distribution for the calibration figures.
"""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Self

import numpy as np
import requests
from urllib3.exceptions import NewConnectionError

from robustcifar.serving.auth import auth_headers
from robustcifar.serving.client import EndpointUnreachable, check_reachable
from robustcifar.serving.protocols import PREDICTIONS, Prediction

__all__ = ["EndpointUnreachable", "Prediction", "PredictionClient"]


def never_sent(exc: requests.RequestException) -> bool:
    """True when the connection could not be opened, so the request never left this machine."""
    if isinstance(exc, requests.ConnectTimeout):
        return True
    reason = getattr(exc.args[0], "reason", None) if exc.args else None
    return isinstance(exc, requests.ConnectionError) and isinstance(reason, NewConnectionError)


class PredictionClient:
    def __init__(self, base_url: str, concurrency: int = 16, timeout: float = 30.0, retries: int = 3,
                 token: str | None = None, backoff_s: float = 0.2, protocol=PREDICTIONS) -> None:
        self.base_url = base_url.rstrip("/")
        self.concurrency = concurrency
        self.timeout = timeout
        self.retries = retries
        self.backoff_s = backoff_s
        self.protocol = protocol
        self.auth = auth_headers(token)
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
        check_reachable(self.base_url)

    def send(self, model: str, body: bytes, headers: dict[str, str], count: int) -> list[Prediction]:
        """One request carrying `count` images -> their predictions (all failed when the request failed)."""
        url = f"{self.base_url}{self.protocol.path(model)}"
        for attempt in range(self.retries + 1):
            try:
                response = self._session().post(url, data=body, headers={**headers, **self.auth},
                                                timeout=self.timeout)
            except requests.RequestException as exc:
                if never_sent(exc) and attempt < self.retries:
                    time.sleep(self.backoff_s * 2**attempt)
                    continue
                return Prediction.failed(count, 0, type(exc).__name__)
            return self.protocol.answers(response.status_code, response.content, response.headers, count)
        raise AssertionError("unreachable")

    def predict(self, model: str, images: np.ndarray) -> list[Prediction]:
        """Every image's prediction, in order; the requests run `concurrency` at a time."""
        step = self.protocol.images_per_request
        chunks = [images[i:i + step] for i in range(0, len(images), step)]

        def one(chunk: np.ndarray) -> list[Prediction]:
            body, headers = self.protocol.request(chunk)
            return self.send(model, body, headers, len(chunk))

        return [p for answers in self._executor().map(one, chunks) for p in answers]
