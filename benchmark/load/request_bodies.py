"""The load test's requests: their bodies in one .npz (a byte blob and offsets), with the headers they
are sent with and the protocol that judges their answers (robustcifar.serving.protocols.describe).

Written once by the benchmark, read by every Locust process (which must not import the rest of
the benchmark: Locust monkey-patches the standard library with gevent when it is imported).
"""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import numpy as np


def write_bodies(bodies: list[bytes], path: Path, headers: dict[str, str] | None = None,
                 protocol: dict | None = None) -> Path:
    offsets = np.cumsum([0] + [len(b) for b in bodies])
    path.parent.mkdir(parents=True, exist_ok=True)
    meta = {"headers": headers or {"Content-Type": "image/png"}, "protocol": protocol or {"protocol": "predictions"}}
    np.savez(path, blob=np.frombuffer(b"".join(bodies), dtype=np.uint8), offsets=offsets,
             meta=np.array(json.dumps(meta)))
    return path


def read_bodies(path: Path | str) -> list[bytes]:
    with np.load(path) as f:
        blob, offsets = f["blob"].tobytes(), f["offsets"]
    return [blob[start:end] for start, end in itertools.pairwise(offsets)]


def read_meta(path: Path | str) -> dict:
    """{"headers": the bodies' own headers, "protocol": its description}."""
    with np.load(path) as f:
        if "meta" not in f:
            return {"headers": {"Content-Type": "image/png"}, "protocol": {"protocol": "predictions"}}
        return json.loads(str(f["meta"]))
