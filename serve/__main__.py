"""`python -m serve {archive,start,stop,status}`: model archives and the TorchServe lifecycle.

    archive   build artifacts/model-store/<model>.mar from the exported models
    start     start TorchServe in the background and wait until every model answers
    stop      stop TorchServe and all its workers
    status    say whether it runs and which models are ready
"""

from __future__ import annotations

import sys

import numpy as np

from robustcifar.artifacts import imported_models
from robustcifar.config import parse_config
from robustcifar.imaging import encode_png
from robustcifar.model_specs import resolve_model_names

from .archives import ArchiveError, build_archive
from .config import LOOPBACK, ServeConfig
from .server import (
    ServerError,
    ServerFiles,
    launch,
    port_in_use,
    running_groups,
    stop,
    wait_until_ready,
)

COMMANDS = ("archive", "start", "stop", "status")


def archive(config: ServeConfig, models: list[str]) -> int:
    for name in models:
        path = build_archive(name, config)
        print(f"[serve] wrote {path} ({path.stat().st_size / 1e6:.1f} MB)")
    return 0


def start(config: ServeConfig, models: list[str]) -> int:
    files = ServerFiles(config.resolved_state_dir())
    if running_groups(files):
        print(f"[serve] TorchServe is already running at {config.public_url()}; "
              "`make stop` stops it")
        return 0
    busy = [f"{config.host}:{config.inference_port}"] if port_in_use(config.host, config.inference_port) else []
    busy += [f"{LOOPBACK}:{p}" for p in config.loopback_ports() if port_in_use(LOOPBACK, p)]
    if busy:
        raise ServerError(f"{', '.join(busy)} taken by another program; stop it or pick other ports")
    log_since = ServerFiles(config.resolved_state_dir()).ts_log_size()
    groups = launch(config, models)
    print(f"[serve] starting TorchServe and its edge (process groups {groups}); logs in {files.logs}", flush=True)
    probe = encode_png(np.full((32, 32, 3), 128, dtype=np.uint8))
    try:
        wait_until_ready(config, models, probe, report=lambda m: print(m, flush=True), log_since=log_since)
    except ServerError:
        stop(config)
        raise
    print(f"[serve] all {len(models)} models answer at {config.public_url()}/predictions/<model>; "
          f"stop with `make stop`")
    return 0


def status(config: ServeConfig, models: list[str]) -> int:
    groups = running_groups(ServerFiles(config.resolved_state_dir()))
    if not groups:
        print("[serve] TorchServe is not running")
        return 1
    print(f"[serve] running: {', '.join(f'{k} (process group {v})' for k, v in groups.items())}; "
          f"inference at {config.public_url()}")
    return 0


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] not in COMMANDS:
        print(__doc__, file=sys.stderr)
        return 2
    command, rest = argv[0], argv[1:]
    config = parse_config(ServeConfig, rest, __doc__)
    try:
        models = resolve_model_names(config.models, imported_models(config.artifacts))
        if command == "stop":
            print("[serve] stopped TorchServe" if stop(config) else "[serve] TorchServe was not running")
            return 0
        return {"archive": archive, "start": start, "status": status}[command](config, models)
    except (ValueError, ArchiveError, ServerError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
