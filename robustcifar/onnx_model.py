"""Running an exported model with onnxruntime: the one way export checks, handlers and benchmarks do it."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnxruntime as ort

from .artifacts import INPUT_NAME


class OnnxModel:
    """A CPU (or CUDA, when asked and available) onnxruntime session over model.onnx.

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
        providers = providers or ["CPUExecutionProvider"]
        self.session = ort.InferenceSession(str(path), sess_options=options, providers=providers)
        self.output_name = self.session.get_outputs()[0].name

    def run(self, pixels: np.ndarray) -> np.ndarray:
        """uint8 (N, 32, 32, 3) -> float32 (N, 10) logits or (N, D) embeddings."""
        batch = np.ascontiguousarray(pixels, dtype=np.uint8)
        if batch.ndim == 3:
            batch = batch[None]
        return self.session.run([self.output_name], {INPUT_NAME: batch})[0]


def softmax(logits: np.ndarray) -> np.ndarray:
    shifted = logits - logits.max(axis=1, keepdims=True)
    exp = np.exp(shifted)
    return exp / exp.sum(axis=1, keepdims=True)
