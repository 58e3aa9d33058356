"""Running an exported model with onnxruntime: the one way export checks, handlers and benchmarks do it.

Which device runs it is chosen by name ("cpu" or "cuda"), for the serving workers through the
ROBUSTCIFAR_ORT_PROVIDER environment variable. Asking for CUDA fails loudly when it cannot be had:
onnxruntime itself would quietly fall back to the CPU, both when the installed package has no CUDA
provider (the plain `onnxruntime` wheel) and when it has one whose CUDA or cuDNN libraries do not
load (no GPU given to the container, a driver too old for the wheel's CUDA).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import onnxruntime as ort

from .artifacts import INPUT_NAME

PROVIDER_ENV = "ROBUSTCIFAR_ORT_PROVIDER"
# Each device name with the onnxruntime providers it asks for, in order of preference: the CPU
# after CUDA runs the few operators that the CUDA provider has no kernel for.
PROVIDER_CHAINS: dict[str, list[str]] = {
    "cpu": ["CPUExecutionProvider"],
    "cuda": ["CUDAExecutionProvider", "CPUExecutionProvider"],
}


class ProviderUnavailable(RuntimeError):
    """The requested execution provider cannot run here; the message says why and what to do."""


def execution_providers(device: str) -> list[str]:
    """The provider chain for "cpu" or "cuda", after checking that this onnxruntime has it."""
    name = device.strip().lower()
    if name not in PROVIDER_CHAINS:
        raise ProviderUnavailable(f"unknown onnxruntime device {device!r}; expected one of {', '.join(PROVIDER_CHAINS)}")
    chain = PROVIDER_CHAINS[name]
    if name == "cuda" and hasattr(ort, "preload_dlls"):
        # onnxruntime-gpu[cuda,cudnn] installs CUDA and cuDNN as pip packages; this loads them
        # from there (it is a no-op for libraries that are already on the loader's path).
        ort.preload_dlls()
    available = ort.get_available_providers()
    if chain[0] not in available:
        raise ProviderUnavailable(
            f"{chain[0]} was requested ({PROVIDER_ENV}={name}) but this onnxruntime "
            f"{ort.__version__} offers only {', '.join(available)}: install onnxruntime-gpu instead of "
            "onnxruntime, or serve on the CPU")
    return chain


def providers_from_environment(environ: Mapping[str, str] | None = None) -> list[str]:
    """The provider chain named by $ROBUSTCIFAR_ORT_PROVIDER ("cpu" when unset)."""
    environ = os.environ if environ is None else environ
    return execution_providers(environ.get(PROVIDER_ENV, "") or "cpu")


def check_session_providers(requested: list[str], active: list[str]) -> None:
    """Raise when the session did not get the first provider asked for (onnxruntime fell back)."""
    if requested and requested[0] not in active:
        raise ProviderUnavailable(
            f"onnxruntime could not start {requested[0]} and fell back to {', '.join(active) or 'nothing'}; "
            "its log above says why (typically no GPU visible: run the container with the GPU given to it, "
            "e.g. `docker run --gpus all`, and a driver recent enough for the CUDA libraries installed)")


class OnnxModel:
    """An onnxruntime session over model.onnx, on the CPU unless `providers` asks for more
    (see `execution_providers`); it raises ProviderUnavailable rather than quietly falling back.

    `threads` bounds the intra-op pool: several workers on a small machine must not each spawn
    one thread per core and fight over them.
    """

    def __init__(self, path: Path, threads: int = 0, providers: list[str] | None = None, spin: bool = True) -> None:
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        if not spin:
            # Idle pool threads otherwise busy-wait, stealing the CPU that the server's other
            # processes (HTTP frontend, request decoding) need on a small machine.
            options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        providers = providers or PROVIDER_CHAINS["cpu"]
        self.session = ort.InferenceSession(str(path), sess_options=options, providers=providers)
        check_session_providers(providers, self.session.get_providers())
        self.output_name = self.session.get_outputs()[0].name

    def run(self, pixels: np.ndarray) -> np.ndarray:
        """uint8 (N, 32, 32, 3) -> float32 (N, 10) logits or (N, D) embeddings."""
        batch = np.ascontiguousarray(pixels, dtype=np.uint8)
        if batch.ndim == 3:
            batch = batch[None]
        return self.session.run([self.output_name], {INPUT_NAME: batch})[0]


# How a serving worker opens its model (its thread count and environment: worker_settings.py); every
# baseline that a served figure is divided by opens it the same way (benchmark/load/onnx_baseline.py).
def worker_session(path: Path, threads: int, providers: list[str] | None = None) -> OnnxModel:
    """The session a worker opens: `threads` intra-op threads that do not spin when idle."""
    return OnnxModel(path, threads=threads, providers=providers, spin=False)
