"""Run by KServe's own environment (.venv-kserve, `make peers`), not ours: KServe's Python REST client
against a v2 server, knowing nothing of robustcifar. Writes what it got into an .npz for the test.

    python kserve_client.py URL MODEL OUT.npz
"""

from __future__ import annotations

import asyncio
import sys

import numpy as np
from kserve import InferenceRESTClient, InferInput, InferRequest, RESTConfig


async def main(url: str, model: str, out: str) -> None:
    client = InferenceRESTClient(RESTConfig(protocol="v2", timeout=60))
    try:
        images = np.random.default_rng(1).integers(0, 256, (8, 32, 32, 3), dtype=np.uint8)
        pixels = InferInput("pixels", list(images.shape), "UINT8")
        pixels.set_data_from_numpy(images, binary_data=False)
        answer = await client.infer(url, InferRequest(model_name=model, infer_inputs=[pixels]), model_name=model)
        outputs = {o.name: o.as_numpy() for o in answer.outputs}
        np.savez(out, images=images, class_id=outputs["class_id"], confidence=outputs["confidence"],
                 server_ready=np.array(await client.is_server_ready(url)),
                 model_ready=np.array(await client.is_model_ready(url, model)))
    finally:
        await client.close()


if __name__ == "__main__":
    asyncio.run(main(*sys.argv[1:]))
