"""A light HTTP/1.1 load generator on asyncio: closed-loop clients and open-loop arrivals.

The project's one load generator besides Locust (the user-facing load test of `make benchmark`):
benchmark/load/serving_throughput.py, benchmark/load/soak.py and benchmark/load/overload.py all drive the server
with it. Written for the overload benchmark, where thousands of requests a second must be sent from the
same 2-core machine as the server: one event loop with raw keep-alive connections costs far less
CPU per request than a thread per client (and answers are not parsed beyond their status line and
headers). Two shapes of load:

- `closed_loop`: N clients, each sending its next request when the previous one is answered; a
  polite client that gets a 503 with `Retry-After` waits that long first, an impolite one does not.
- `open_loop`: requests arrive at a fixed rate whether or not earlier ones were answered, as real
  traffic does; each takes an idle keep-alive connection or opens one.

Every request becomes a `Sample` (send time, latency, status; status 0 when no answer came).
Only loopback targets are allowed (see load_test.require_loopback).
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections import Counter
from dataclasses import dataclass
from urllib.parse import urlsplit

from robustcifar.serving.auth import auth_headers

NO_ANSWER = 0
ANSWER_WITHOUT_LABEL = -1  # a 200 whose body lacks the expected marker (not a prediction)


@dataclass
class Sample:
    started: float  # time.perf_counter() when the request was sent
    latency_s: float
    status: int  # HTTP status, NO_ANSWER when the connection failed
    retry_after_s: float | None = None  # the Retry-After header of the answer, if any


class Target:
    """Where the requests go, and the request bytes, built once."""

    def __init__(self, url: str, body: bytes, token: str | None = None, timeout_s: float = 30.0,
                 headers: dict[str, str] | None = None, valid=None) -> None:
        """`headers`: the body's own (Content-Type: image/png by default); `valid(status, body, headers)`:
        whether a 200 answer is what was asked for (a prediction), else the sample's status is
        ANSWER_WITHOUT_LABEL."""
        parts = urlsplit(url)
        self.host, self.port = parts.hostname or "127.0.0.1", parts.port or 80
        path = parts.path or "/"
        fields = {"Content-Type": "image/png", **(headers or {}), **auth_headers(token),
                  "Host": f"{self.host}:{self.port}", "Content-Length": str(len(body))}
        lines = [f"POST {path} HTTP/1.1", *(f"{k}: {v}" for k, v in fields.items())]
        self.request = ("\r\n".join(lines) + "\r\n\r\n").encode() + body
        self.timeout_s = timeout_s
        self.valid = valid

    @classmethod
    def prediction(cls, base_url: str, model: str, protocol, images, token: str | None = None,
                   timeout_s: float = 30.0) -> Target:
        """A request for `model` in `protocol` (robustcifar.serving.protocols) carrying `images`, whose
        answers count only when the protocol says they are predictions."""
        body, headers = protocol.request(images)
        return cls(f"{base_url.rstrip('/')}{protocol.path(model)}", body, token, timeout_s, headers,
                   valid=protocol.is_valid)


class Connection:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    @classmethod
    async def open(cls, target: Target) -> Connection:
        return cls(*await asyncio.open_connection(target.host, target.port))

    def close(self) -> None:
        self.writer.close()

    async def exchange(self, target: Target) -> tuple[int, float | None, bool]:
        """Send one request, read its whole answer -> (status, Retry-After seconds, keep the connection)."""
        body = b""
        self.writer.write(target.request)
        await self.writer.drain()
        head = await self.reader.readuntil(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split(" ", 2)[1])
        headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        if headers.get("transfer-encoding", "").lower() == "chunked":
            while True:
                size = int((await self.reader.readuntil(b"\r\n")).split(b";")[0], 16)
                body += (await self.reader.readexactly(size + 2))[:size]
                if size == 0:
                    break
        else:
            body = await self.reader.readexactly(int(headers.get("content-length", "0")))
        if status == 200 and target.valid is not None and not target.valid(status, body, headers):
            status = ANSWER_WITHOUT_LABEL
        retry_after = headers.get("retry-after")
        keep = headers.get("connection", "").lower() != "close"
        return status, (float(retry_after) if retry_after else None), keep


class Pool:
    """Idle keep-alive connections, reused most-recent first; new ones are opened on demand."""

    def __init__(self, target: Target) -> None:
        self.target = target
        self.idle: list[Connection] = []

    async def send(self) -> Sample:
        started = time.perf_counter()
        connection = self.idle.pop() if self.idle else None
        try:
            if connection is None:
                connection = await Connection.open(self.target)
            status, retry_after, keep = await asyncio.wait_for(connection.exchange(self.target),
                                                               self.target.timeout_s)
        except (TimeoutError, OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError, IndexError):
            if connection is not None:
                connection.close()
            return Sample(started, time.perf_counter() - started, NO_ANSWER)
        if keep:
            self.idle.append(connection)
        else:
            connection.close()
        return Sample(started, time.perf_counter() - started, status, retry_after)

    def close(self) -> None:
        for connection in self.idle:
            connection.close()
        self.idle.clear()


async def one_request(target: Target) -> Sample:
    """A single request on a fresh connection (a check that the endpoint answers at all)."""
    pool = Pool(target)
    try:
        return await pool.send()
    finally:
        pool.close()


async def closed_loop(target: Target, clients: int, duration_s: float, polite: bool,
                      samples: list[Sample] | None = None, stop=None) -> list[Sample]:
    """`clients` closed-loop clients for `duration_s` (or until `stop`, a threading.Event, is set),
    each on its own connection. Samples are appended to `samples` as they come, when given, so
    that another thread can watch the run."""
    samples = [] if samples is None else samples
    deadline = time.perf_counter() + duration_s

    async def client() -> None:
        pool = Pool(target)
        try:
            while time.perf_counter() < deadline and not (stop is not None and stop.is_set()):
                sample = await pool.send()
                samples.append(sample)
                if sample.status == NO_ANSWER:
                    await asyncio.sleep(0.05)  # the server is gone: do not spin on connection errors
                elif polite and sample.status == 503 and sample.retry_after_s:
                    await asyncio.sleep(min(sample.retry_after_s, max(0.0, deadline - time.perf_counter())))
        finally:
            pool.close()

    await asyncio.gather(*(client() for _ in range(clients)))
    return samples


class BackgroundLoad:
    """closed_loop in a thread of its own, for callers that measure while it runs; `samples` fills
    as answers come."""

    def __init__(self, target: Target, clients: int, polite: bool = True) -> None:
        self.target, self.clients, self.polite = target, clients, polite
        self.samples: list[Sample] = []
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._stop.clear()
        self._thread = threading.Thread(target=lambda: asyncio.run(closed_loop(
            self.target, self.clients, float("inf"), self.polite, self.samples, self._stop)), daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(self.target.timeout_s + 5)


async def open_loop(target: Target, rate_per_s: float, duration_s: float, max_in_flight: int = 4096) -> list[Sample]:
    """Requests arriving every 1/rate seconds for `duration_s`; an arrival while `max_in_flight`
    requests are outstanding is recorded as NO_ANSWER (the generator's own limit, never reached
    when the server answers or refuses promptly)."""
    samples: list[Sample] = []
    pool = Pool(target)
    tasks: set[asyncio.Task] = set()
    begin = time.perf_counter()
    interval = 1.0 / rate_per_s
    sent = 0

    async def one() -> None:
        samples.append(await pool.send())

    while True:
        now = time.perf_counter()
        if now - begin >= duration_s:
            break
        due = int((now - begin) / interval) + 1 - sent
        for _ in range(max(0, due)):
            if len(tasks) >= max_in_flight:
                samples.append(Sample(time.perf_counter(), 0.0, NO_ANSWER))
            else:
                task = asyncio.ensure_future(one())
                tasks.add(task)
                task.add_done_callback(tasks.discard)
            sent += 1
        await asyncio.sleep(max(0.0, begin + sent * interval - time.perf_counter()))
    if tasks:
        await asyncio.wait(tasks, timeout=target.timeout_s + 5)
    pool.close()
    return samples


def failure_summary(samples: list[Sample]) -> dict[int, int]:
    """Counts per status of the failed requests (NO_ANSWER and ANSWER_WITHOUT_LABEL included)."""
    return dict(Counter(s.status for s in samples if s.status != 200))
