"""`python -m serve.healthcheck [--state-dir DIR]`: exit 0 when every model that serve/foreground.py
serves is ready, 1 otherwise, with one line saying why. The serving image's HEALTHCHECK.

Ready means what `serve start` waits for, not merely that /ping answers: both processes are alive,
every worker of each model is READY (management API), and each model answers a real prediction
through the edge. With token authorization on, the keys come from TorchServe's key_file.json in the
state folder, which is why the probe runs inside the container, next to the server.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path

from robustcifar.config import parse_config

from .config import ServeConfig
from .server import ServerError, ServerFiles, ServerRecord, wait_until_ready


@dataclass
class HealthcheckConfig:
    state_dir: Path | None = field(default=None, metadata={"help": "the server's state folder (as given to serve.foreground)"})
    timeout: float = field(default=20.0, metadata={"help": "seconds to wait for readiness before answering 'unhealthy'"})


def served_config(check: HealthcheckConfig) -> tuple[ServeConfig, list[str]]:
    """The addresses and models that the running server recorded in its state folder (server.json)."""
    state_dir = Path(check.state_dir) if check.state_dir else ServeConfig().resolved_state_dir()
    record = ServerRecord.load(ServerFiles(state_dir).pids)
    if record is None or not record.inference_port:
        raise ServerError(f"no server has started in {state_dir}")
    config = ServeConfig(state_dir=state_dir, host=record.host, inference_port=record.inference_port,
                         management_port=record.management_port, startup_timeout=check.timeout)
    return config, list(record.models)


def main(argv: list[str] | None = None) -> int:
    check = parse_config(HealthcheckConfig, argv, __doc__.split("\n\n")[0])
    try:
        config, models = served_config(check)
        # counts only this start's load failures: server.json says where its log lines begin
        wait_until_ready(config, models, report=lambda _line: None)
    except ServerError as exc:
        print(f"unhealthy: {str(exc).splitlines()[0]}", flush=True)
        return 1
    print(f"healthy: {', '.join(models)} ready", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
