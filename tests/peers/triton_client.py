"""Run by the peers' Python (.venv-peers, `make peers`), not ours: Triton's own HTTP client against a
server, knowing nothing of robustcifar. Writes what it got into an .npz for the test to check.

    python triton_client.py URL MODEL OUT.npz
"""

from __future__ import annotations

import json
import sys

import numpy as np
import tritonclient.http as httpclient


def main(url: str, model: str, out: str) -> None:
    client = httpclient.InferenceServerClient(url.removeprefix("http://"))
    results = {"server_ready": np.array(client.is_server_ready()), "server_live": np.array(client.is_server_live()),
               "model_ready": np.array(client.is_model_ready(model)),
               "metadata": np.array(json.dumps(client.get_model_metadata(model)))}
    rng = np.random.default_rng(0)
    for n in (1, 8, 256):
        images = rng.integers(0, 256, (n, 32, 32, 3), dtype=np.uint8)
        results[f"images_{n}"] = images
        for binary in (True, False):
            pixels = httpclient.InferInput("pixels", list(images.shape), "UINT8")
            pixels.set_data_from_numpy(images, binary_data=binary)
            wanted = [httpclient.InferRequestedOutput(name, binary_data=binary) for name in ("class_id", "confidence")]
            answer = client.infer(model, [pixels], outputs=wanted)
            results[f"class_id_{n}_{binary}"] = answer.as_numpy("class_id")
            results[f"confidence_{n}_{binary}"] = answer.as_numpy("confidence")
    try:
        bad = httpclient.InferInput("pixels", [1, 16, 16, 3], "UINT8")
        bad.set_data_from_numpy(np.zeros((1, 16, 16, 3), np.uint8))
        client.infer(model, [bad])
        results["bad_error"] = np.array("")
    except httpclient.InferenceServerException as exc:
        results["bad_error"] = np.array(str(exc))
    np.savez(out, **results)


if __name__ == "__main__":
    main(*sys.argv[1:])
