"""The load test's request bodies: PNG-encoded test images in one .npz (a byte blob and offsets).

Written once by the benchmark, read by every Locust process (which must not import the rest of
the benchmark: Locust monkey-patches the standard library with gevent when it is imported).
"""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np


def write_bodies(bodies: list[bytes], path: Path) -> Path:
    offsets = np.cumsum([0] + [len(b) for b in bodies])
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez(path, blob=np.frombuffer(b"".join(bodies), dtype=np.uint8), offsets=offsets)
    return path


def read_bodies(path: Path | str) -> list[bytes]:
    with np.load(path) as f:
        blob, offsets = f["blob"].tobytes(), f["offsets"]
    return [blob[start:end] for start, end in itertools.pairwise(offsets)]
