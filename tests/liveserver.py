"""One real TorchServe behind its edge, shared by the live request tests (tests/serve/conftest.py
starts it once per session): three tiny models, an imported one, free ports, a temporary state folder."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path
from unittest import mock

from fakeforeign import CIFAR_MEAN, CIFAR_STD, Contract, colour_images, foreign_classifier
from fakeserving import (
    Served,
    free_ports,
    processes_mentioning,
    worker_environment,
    write_tiny_model,
)

from export.importer import ImportConfig, import_model
from robustcifar.classes import CLASS_NAMES
from serve.archives import build_archive
from serve.config import ServeConfig
from serve.server import launch, stop, wait_until_ready

GOOD_MODELS = ("ce_clean", "angular")
FAILING_MODEL = "ce_corrupted"  # a classifier whose meta.json says embedder: every request fails
MAX_REQUEST_MB = 4.0  # room for a JSON v2 request of 256 images (3.2 MB)
BATCH_DELAY_MS = 20  # long enough for the batching test's simultaneous requests to meet
# a classifier "exported elsewhere": NCHW float32 normalised outside, softmax out, classes reversed
IMPORTED_MODEL = "theirs"
IMPORTED_CONTRACT = Contract(output="probabilities", class_order=tuple(reversed(CLASS_NAMES)))
IMPORTED_SPEC = {"layout": "NCHW", "dtype": "float32", "scale": "1/255", "mean": ",".join(map(str, CIFAR_MEAN)),
                 "std": ",".join(map(str, CIFAR_STD)), "output": "probabilities",
                 "class_names": ",".join(reversed(CLASS_NAMES))}


@contextlib.contextmanager
def live_server(root: Path) -> Iterator[Served]:
    artifacts = root / "artifacts"
    write_tiny_model(artifacts, "ce_clean", "classifier")
    write_tiny_model(artifacts, "angular", "embedder")
    write_tiny_model(artifacts, FAILING_MODEL, "classifier", meta_kind="embedder")
    source = foreign_classifier(root / "theirs.onnx", IMPORTED_CONTRACT)
    import_model(ImportConfig(onnx=source, name=IMPORTED_MODEL, artifacts=artifacts, **IMPORTED_SPEC),
                 *colour_images(5, seed=3))
    ports = free_ports(6)
    config = ServeConfig(artifacts=artifacts, state_dir=root / "state", inference_port=ports[0],
                         backend_port=ports[1], management_port=ports[2], metrics_port=ports[3],
                         grpc_inference_port=ports[4], grpc_management_port=ports[5],
                         max_request_mb=MAX_REQUEST_MB, max_batch_delay_ms=BATCH_DELAY_MS, startup_timeout=180)
    models = [*GOOD_MODELS, FAILING_MODEL, IMPORTED_MODEL]
    for name in models:
        build_archive(name, config)
    with mock.patch.dict(os.environ, worker_environment()):
        launch(config, models)
    try:
        wait_until_ready(config, [*GOOD_MODELS, IMPORTED_MODEL], report=lambda message: None)
        server = Served(config.public_url(), config.internal_url(ports[2]), config.internal_url(ports[3]),
                        artifacts, root / "state", ports)
        server.wait_for_new_worker(FAILING_MODEL, old_pid=-1)
        yield server
    finally:
        stop(config)
    assert processes_mentioning(str(root / "state")) == [], "serving processes survived stop()"


