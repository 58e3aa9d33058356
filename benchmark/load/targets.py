"""What the load tools send: one model's prediction request in either protocol, built once from the
serving contract (robustcifar/serving), with the server's address and key from the same options."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import requests

from robustcifar.errors import UsageError
from robustcifar.serving.client import ServerOptions
from robustcifar.serving.protocols import PREDICTIONS, PROTOCOLS, V2Protocol, fetch_v2_contract
from robustcifar.serving.v2 import V2Error

from .http_load import Target


@dataclass
class LoadOptions(ServerOptions):
    protocol: str = field(default="predictions", metadata={
        "help": f"{' or '.join(PROTOCOLS)}: what each request is (one PNG, or a v2 tensor of --batch images)"})
    batch: int = field(default=1, metadata={"help": "images per v2 request"})


def random_images(count: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (count, 32, 32, 3), dtype=np.uint8)


def protocol_for(options: LoadOptions, model: str):
    if options.protocol not in PROTOCOLS:
        raise UsageError(f"--protocol must be one of {', '.join(PROTOCOLS)}, got {options.protocol!r}")
    if options.protocol == "predictions":
        if options.batch != 1:
            raise UsageError("/predictions carries one image per request: --batch applies to --protocol v2")
        return PREDICTIONS
    if options.batch < 1:
        raise UsageError(f"--batch must be at least 1, got {options.batch}")
    try:
        return V2Protocol(fetch_v2_contract(options.url, model, options.inference_headers()), options.batch)
    except (V2Error, requests.RequestException) as exc:
        raise UsageError(f"cannot read {model}'s v2 metadata from {options.url}: {exc}") from None


def prediction_target(options: ServerOptions, model: str, timeout_s: float = 60.0, protocol=None) -> Target:
    """A request for `model` with random images, whose answers count only when they are predictions
    (in `protocol`, or the one `options` (LoadOptions) names)."""
    protocol = protocol or protocol_for(options, model)
    return Target.prediction(options.url, model, protocol, random_images(protocol.images_per_request),
                             options.keys().get("inference"), timeout_s)
