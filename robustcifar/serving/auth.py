"""TorchServe's API keys: where they are written, how they are read, how a request carries one.

With token authorization on (the container's default), TorchServe writes key_file.json into its
working folder (the server's state folder): {"management": {"key": ...}, "inference": {"key": ...},
"API": {"key": ...}}. Every client reads it with `read_keys`/`inference_key` and sends the key as
`auth_headers(key)`; `python -m robustcifar.serving.auth FILE [api]` prints one key (for curl and
the container scripts).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from ..errors import UsageError

KEY_FILE_NAME = "key_file.json"
# How the key reaches processes that a tool starts with their own options (the Locust workers).
KEY_ENV = "ROBUSTCIFAR_INFERENCE_KEY"
APIS = ("inference", "management")


def key_file(state_dir: Path) -> Path:
    return Path(state_dir) / KEY_FILE_NAME


def read_keys(path: Path) -> dict[str, str]:
    """{api: key} from a key_file.json; UsageError when it cannot be read."""
    try:
        raw = json.loads(Path(path).read_text())
        return {api: str(raw[api]["key"]) for api in APIS if api in raw}
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise UsageError(f"cannot read the API keys from {path} ({type(exc).__name__}: {exc})") from None


def inference_key(path: Path | None) -> str | None:
    """The inference key from `path`, or None when no file is given."""
    if path is None:
        return None
    keys = read_keys(path)
    if "inference" not in keys:
        raise UsageError(f"{path} holds no inference key")
    return keys["inference"]


def auth_headers(key: str | None) -> dict[str, str]:
    """The header that carries a key ({} without one)."""
    return {"Authorization": f"Bearer {key}"} if key else {}


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if not 1 <= len(args) <= 2 or (len(args) == 2 and args[1] not in APIS):
        print(f"usage: python -m robustcifar.serving.auth KEY_FILE [{'|'.join(APIS)}]", file=sys.stderr)
        return 2
    try:
        keys = read_keys(Path(args[0]))
        api = args[1] if len(args) == 2 else "inference"
        print(keys[api])
    except UsageError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyError:
        print(f"error: {args[0]} holds no {api} key", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
