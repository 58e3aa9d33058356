"""The inference key of a server that runs with token authorization (the container's default)."""

from __future__ import annotations

import json
from pathlib import Path

from robustcifar.errors import UsageError

# How the key reaches the Locust processes, which the load test starts with their own options.
KEY_ENV = "ROBUSTCIFAR_INFERENCE_KEY"


def inference_key(key_file: Path | None) -> str | None:
    """The "inference" key from TorchServe's key_file.json, or None when no file is given."""
    if key_file is None:
        return None
    try:
        return str(json.loads(Path(key_file).read_text())["inference"]["key"])
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise UsageError(f"cannot read the inference key from {key_file} ({type(exc).__name__}: {exc})") from None
