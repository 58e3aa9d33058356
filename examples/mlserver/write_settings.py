"""Write an MLServer model folder for one ONNX file: settings.json (loopback ports, adaptive batching
like our server's) and model-settings.json naming runtime.OnnxRuntimeModel.

    python examples/mlserver/write_settings.py --onnx artifacts/ce_clean/model.onnx --name ce_clean \
        --folder /tmp/mlserver-ce_clean --http-port 9080
    .venv-peers/bin/mlserver start /tmp/mlserver-ce_clean

Runs with any Python (standard library only).
"""

from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path

RUNTIME = Path(__file__).with_name("runtime.py")


def write(onnx: Path, name: str, folder: Path, http_port: int, grpc_port: int, metrics_port: int,
          batch: int = 8, batch_time_s: float = 0.001, workers: int = 1) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copy(RUNTIME, folder / "runtime.py")
    settings = {"host": "127.0.0.1", "http_port": http_port, "grpc_port": grpc_port, "metrics_port": metrics_port,
                "parallel_workers": workers, "debug": False, "metrics_endpoint": None}
    (folder / "settings.json").write_text(json.dumps(settings, indent=2))
    model = {"name": name, "implementation": "runtime.OnnxRuntimeModel",
             "parameters": {"uri": str(Path(onnx).resolve()), "version": "1"},
             # dynamic batching as ours does it (TorchServe: batchSize 8, maxBatchDelay 1 ms)
             "max_batch_size": batch, "max_batch_time": batch_time_s}
    (folder / "model-settings.json").write_text(json.dumps(model, indent=2))
    return folder


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--onnx", type=Path, required=True)
    parser.add_argument("--name", required=True)
    parser.add_argument("--folder", type=Path, required=True)
    parser.add_argument("--http-port", type=int, default=9080)
    parser.add_argument("--grpc-port", type=int, default=9081)
    parser.add_argument("--metrics-port", type=int, default=9082)
    parser.add_argument("--batch", type=int, default=8, help="adaptive batching: most requests per batch")
    parser.add_argument("--workers", type=int, default=1, help="MLServer's parallel inference workers")
    args = parser.parse_args()
    if not args.onnx.is_file():
        parser.error(f"{args.onnx} does not exist")
    print(write(args.onnx, args.name, args.folder, args.http_port, args.grpc_port, args.metrics_port, args.batch,
                workers=args.workers))


if __name__ == "__main__":
    main()
