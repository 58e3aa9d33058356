"""How a serving worker runs: the batch size, its onnxruntime threads and its environment. Light
on purpose (no onnxruntime import): serve/config.py and the health check read it. Every baseline
that a served figure is divided by runs the model the same way (benchmark/load/onnx_baseline.py, with
onnx_model.worker_session)."""

from __future__ import annotations

import os

SERVING_BATCH_SIZE = 8  # TorchServe's batch size (serve/config.py's default)
THREADS_ENV = "ROBUSTCIFAR_ORT_THREADS"


def worker_threads(requested: int = 0) -> int:
    """onnxruntime threads of a worker: `requested`, or one per core."""
    return requested if requested > 0 else (os.cpu_count() or 1)


def worker_environment(threads: int) -> dict[str, str]:
    """The variables a worker process runs with. numpy's BLAS only runs the embedders' kNN product
    (a batch x 128 by 128 x gallery matrix): one thread is plenty, and a pool of spinning BLAS threads
    next to onnxruntime's slows both (measured: 2.5x on the angular baseline)."""
    return {THREADS_ENV: str(threads), "OMP_NUM_THREADS": str(threads), "OPENBLAS_NUM_THREADS": "1",
            "MKL_NUM_THREADS": "1"}


