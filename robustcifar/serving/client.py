"""Where a server is and how to reach it, as every client of ours takes it: the options naming the
inference edge, the management API and the key file (defaults from the one ServeConfig), and a
small client of TorchServe's management API (loopback only, see serve/config.py)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import requests

from ..errors import UsageError
from .auth import auth_headers, read_keys
from .config import ServeConfig


class EndpointUnreachable(UsageError):
    pass


def _defaults() -> ServeConfig:
    return ServeConfig()


@dataclass
class ServerOptions:
    """The server a tool talks to: its inference edge, its management API, its API keys."""

    url: str = field(default_factory=lambda: _defaults().public_url(), metadata={
        "help": "the inference edge (ServeConfig's public URL)"})
    management_url: str = field(default_factory=lambda: _defaults().management_url(), metadata={
        "help": "TorchServe's management API, loopback only (default: ServeConfig's)"})
    key_file: Path | None = field(default=None, metadata={
        "help": "TorchServe's key_file.json, for a server with token authorization (its keys are sent)"})

    def keys(self) -> dict[str, str]:
        return read_keys(self.key_file) if self.key_file else {}

    def inference_headers(self) -> dict[str, str]:
        return auth_headers(self.keys().get("inference"))


def check_reachable(url: str, path: str = "/ping") -> None:
    """Raise EndpointUnreachable, with what to do, when nothing answers at `url`."""
    try:
        requests.get(f"{url.rstrip('/')}{path}", timeout=5)
    except requests.RequestException as exc:
        raise EndpointUnreachable(f"nothing answers at {url} ({type(exc).__name__}); start the server with "
                                  "`make serve` or pass --url") from None


class ManagementClient:
    """TorchServe's management API: which workers a model has (their pids and states)."""

    def __init__(self, base_url: str, key: str | None = None, timeout: float = 10.0) -> None:
        self.base_url, self.headers, self.timeout = base_url.rstrip("/"), auth_headers(key), timeout

    def workers(self, model: str) -> list[dict]:
        """[{"pid", "status", ...}] of the model's workers; [] when the API does not answer or knows no such model."""
        try:
            response = requests.get(f"{self.base_url}/models/{model}", headers=self.headers, timeout=self.timeout)
            described = response.json() if response.status_code == 200 else []
            return list(described[0].get("workers", [])) if described else []
        except (requests.RequestException, ValueError, IndexError, KeyError, AttributeError):
            return []

    def ready(self, model: str) -> bool:
        workers = self.workers(model)
        return bool(workers) and all(w.get("status") == "READY" for w in workers)
