"""A small MLServer runtime that serves one of our ONNX files on onnxruntime, as a peer to measure our
server against (examples/mlserver/README.md). Runs inside MLServer's own environment: it imports
nothing of robustcifar, so the benchmark talks to it as to any v2 server.

The model's contract is the ONNX file's own: input "pixels" UINT8 [N, 32, 32, 3], output "logits"
FP32 [N, 10] (our classifiers' export); the benchmark declares it (--v2-output logits --output logits
--layout NHWC --dtype uint8).
"""

from __future__ import annotations

import os

import onnxruntime as ort
from mlserver import MLModel
from mlserver.codecs import NumpyCodec
from mlserver.types import InferenceRequest, InferenceResponse
from mlserver.utils import get_model_uri


class OnnxRuntimeModel(MLModel):
    async def load(self) -> bool:
        options = ort.SessionOptions()
        # as our workers run it: one thread per core (ROBUSTCIFAR_ORT_THREADS overrides), no spinning
        options.intra_op_num_threads = int(os.environ.get("ROBUSTCIFAR_ORT_THREADS", os.cpu_count() or 1))
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self.session = ort.InferenceSession(await get_model_uri(self.settings), options,
                                            providers=["CPUExecutionProvider"])
        self.output_names = [o.name for o in self.session.get_outputs()]
        return True

    async def predict(self, payload: InferenceRequest) -> InferenceResponse:
        feeds = {request_input.name: NumpyCodec.decode_input(request_input) for request_input in payload.inputs}
        results = self.session.run(self.output_names, feeds)
        return InferenceResponse(model_name=self.name, id=payload.id, outputs=[
            NumpyCodec.encode_output(name, array) for name, array in zip(self.output_names, results)])
