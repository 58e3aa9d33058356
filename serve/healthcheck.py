"""`python -m serve.healthcheck [--state-dir DIR]`: exit 0 when every model that serve/foreground.py
serves is ready, 1 otherwise, with one line saying why. The serving image's HEALTHCHECK.

Ready means what `serve start` waits for, not merely that /ping answers: both processes are alive,
every worker of each model is READY (management API), and each model answers a real prediction
through the edge. With token authorization on, the keys come from TorchServe's key_file.json in the
state folder, which is why the probe runs inside the container, next to the server.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from robustcifar.config import parse_config
from robustcifar.imaging import encode_png

from .config import ServeConfig
from .foreground import SERVING_FILE
from .server import ServerError, wait_until_ready


@dataclass
class HealthcheckConfig:
    state_dir: Path | None = field(default=None, metadata={"help": "the server's state folder (as given to serve.foreground)"})
    timeout: float = field(default=20.0, metadata={"help": "seconds to wait for readiness before answering 'unhealthy'"})


def served_config(check: HealthcheckConfig) -> tuple[ServeConfig, list[str]]:
    """The addresses and models that the running serve.foreground recorded in its state folder."""
    state_dir = Path(check.state_dir) if check.state_dir else ServeConfig().resolved_state_dir()
    try:
        serving = json.loads((state_dir / SERVING_FILE).read_text())
    except (OSError, ValueError) as exc:
        raise ServerError(f"no server has started in {state_dir} ({type(exc).__name__})") from None
    config = ServeConfig(state_dir=state_dir, host=serving["host"], inference_port=serving["inference_port"],
                         management_port=serving["management_port"], startup_timeout=check.timeout)
    return config, list(serving["models"])


def main(argv: list[str] | None = None) -> int:
    check = parse_config(HealthcheckConfig, argv, __doc__.split("\n\n")[0])
    probe = encode_png(np.full((32, 32, 3), 128, dtype=np.uint8))
    try:
        config, models = served_config(check)
        wait_until_ready(config, models, probe, report=lambda _line: None)
    except ServerError as exc:
        print(f"unhealthy: {str(exc).splitlines()[0]}", flush=True)
        return 1
    print(f"healthy: {', '.join(models)} ready", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
