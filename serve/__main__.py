"""`python -m serve {archive,start,stop,status}`: model archives and the TorchServe lifecycle.

    archive   build artifacts/model-store/<model>.mar from the exported models
    start     start TorchServe in the background and wait until every model answers (a running
              server whose archives changed since it started is restarted, saying which)
    stop      stop TorchServe and all its workers
    status    say whether it runs: its process groups and the inference URL
"""

from __future__ import annotations

import sys

from robustcifar.artifacts import imported_models, model_store_dir
from robustcifar.config import parse_config
from robustcifar.errors import UsageError
from robustcifar.model_specs import resolve_model_names

from .archives import ArchiveError, build_archive
from .config import ServeConfig
from .server import (
    ServerError,
    ServerFiles,
    ServerRecord,
    launch,
    require_archives,
    running_groups,
    served_identities,
    stop,
    wait_until_ready,
)

COMMANDS = ("archive", "start", "stop", "status")


def archive(config: ServeConfig, models: list[str]) -> int:
    for name in models:
        path = build_archive(name, config)
        print(f"[serve] wrote {path} ({path.stat().st_size / 1e6:.1f} MB)")
    return 0


def changes(record: ServerRecord | None, wanted: dict[str, str]) -> list[str]:
    """What differs between what runs and what the archives now hold, one phrase per model."""
    served = record.models if record else {}
    lines = [f"{m} is new" for m in wanted if m not in served]
    lines += [f"{m} changed" for m in wanted if m in served and served[m] != wanted[m]]
    lines += [f"{m} is no longer asked for" for m in served if m not in wanted]
    return lines


def start(config: ServeConfig, models: list[str]) -> int:
    files = ServerFiles(config.resolved_state_dir())
    if running_groups(files):
        # serve what artifacts/ holds now: the archives were just rebuilt from it (make serve)
        store = model_store_dir(config.artifacts)
        require_archives(store, models)
        different = changes(ServerRecord.load(files.pids), served_identities(store, models))
        if not different:
            print(f"[serve] already running at {config.public_url()}, serving these archives as they are now "
                  f"({', '.join(models)}); `make stop` stops it")
            return 0
        print(f"[serve] restarting, since {'; '.join(different)}", flush=True)
        stop(config)
    groups = launch(config, models)
    print(f"[serve] starting TorchServe and its edge (process groups {groups}); logs in {files.logs}", flush=True)
    try:
        wait_until_ready(config, models, report=lambda m: print(m, flush=True))
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
        models = resolve_model_names(config.models, imported_models(config.artifacts), config.seeds)
        if command == "stop":
            print("[serve] stopped TorchServe" if stop(config) else "[serve] TorchServe was not running")
            return 0
        return {"archive": archive, "start": start, "status": status}[command](config, models)
    except (UsageError, ArchiveError, ServerError) as exc:  # a bug keeps its traceback
        print(f"error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
