"""Starting, waiting for, and stopping the serving processes: TorchServe and its nginx edge.

Each runs in its own process session, so stopping signals the Java frontend with every Python
worker, and nginx with its workers, and leaves nothing behind. Their state (pids, logs, rendered
configs) lives in one folder, by default logs/torchserve/ in the checkout.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import requests

from robustcifar.artifacts import model_store_dir
from robustcifar.priority import lower_priority

from .config import ServeConfig, render_properties
from .edge import find_nginx, render_nginx_conf

STOP_GRACE_S = 20.0
# A model whose worker failed to load this often is broken (a bad model.onnx, a missing package):
# TorchServe would retry forever, so start-up stops here rather than at the timeout.
LOAD_ATTEMPTS = 3
LOG_CONFIG = Path(__file__).with_name("log4j2.xml")
PROCESSES = ("torchserve", "edge")


class ServerError(RuntimeError):
    pass


@dataclass(frozen=True)
class ServerFiles:
    state_dir: Path

    @property
    def pids(self) -> Path:
        return self.state_dir / "server.json"

    @property
    def properties(self) -> Path:
        return self.state_dir / "config.properties"

    @property
    def nginx_conf(self) -> Path:
        return self.state_dir / "nginx.conf"

    @property
    def logs(self) -> Path:
        return self.state_dir / "logs"

    def console_log(self, process: str) -> Path:
        return self.logs / f"{process}_console.log"

    @property
    def ts_log(self) -> Path:
        return self.logs / "ts_log.log"

    def ts_log_size(self) -> int:
        """Where this start's lines will begin: the log is appended to across starts."""
        return self.ts_log.stat().st_size if self.ts_log.is_file() else 0


def _reap(pgid: int) -> None:
    """Collect the exit status of our own children in the group (when this process started them):
    a zombie still counts as a group member, and would look alive until its parent exits."""
    try:
        while os.waitpid(-pgid, os.WNOHANG)[0] > 0:
            pass
    except ChildProcessError:
        pass


def process_group_alive(pgid: int) -> bool:
    """Whether any process of the group still exists (one we may not signal counts as alive)."""
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _alive(pgid: int) -> bool:
    _reap(pgid)
    return process_group_alive(pgid)


def running_groups(files: ServerFiles) -> dict[str, int]:
    """Process groups of our live serving processes (a stale pid file is removed)."""
    try:
        groups = {k: int(v) for k, v in json.loads(files.pids.read_text()).items()}
    except (OSError, ValueError, AttributeError):
        return {}
    alive = {name: pgid for name, pgid in groups.items() if _alive(pgid)}
    if not alive:
        files.pids.unlink(missing_ok=True)
    return alive


def log_tail(files: ServerFiles, lines: int = 40) -> str:
    chunks = []
    names = [files.console_log(p).name for p in PROCESSES] + ["model_log.log", "ts_log.log", "edge_error.log"]
    for path in (files.logs / name for name in names):
        if path.is_file() and path.stat().st_size:
            tail = path.read_text(errors="replace").splitlines()[-lines:]
            chunks.append(f"--- last lines of {path} ---\n" + "\n".join(tail))
    return "\n".join(chunks) or "(no log written)"


def _private_temp_dir(files: ServerFiles) -> Path:
    """A temp folder of this server's own: TorchServe puts its pid file and the workers' Unix
    sockets there, and a shared /tmp would let two servers (a dev one, a test one) collide.
    Socket paths must stay under ~100 bytes, hence a short folder in /tmp when the state dir is deep."""
    folder = files.state_dir / "tmp"
    if len(str(folder)) > 60:
        digest = hashlib.sha256(str(files.state_dir).encode()).hexdigest()[:12]
        folder = Path(tempfile.gettempdir()) / f"robustcifar-{digest}"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def server_environment(config: ServeConfig, files: ServerFiles) -> dict[str, str]:
    env = dict(os.environ)
    threads = str(config.resolved_ort_threads())
    temp = str(_private_temp_dir(files))
    env.update({
        "LOG_LOCATION": str(files.logs),
        "METRICS_LOCATION": str(files.logs),
        "TMPDIR": temp,  # read by the torchserve launcher (pid file) and the Python workers
        "TEMP": temp,  # read by the launcher to set the JVM's java.io.tmpdir (worker sockets)
        "ROBUSTCIFAR_ORT_THREADS": threads,
        "OMP_NUM_THREADS": threads,
        # numpy's BLAS only runs the embedders' kNN product (a batch x 128 by 128 x gallery matrix):
        # one thread is plenty, and a pool of spinning BLAS threads next to onnxruntime's slows both.
        "OPENBLAS_NUM_THREADS": "1",
        "MKL_NUM_THREADS": "1",
    })
    return env


def _spawn(command: list[str], files: ServerFiles, name: str, env: dict[str, str], nice: int = 0) -> int:
    """Start `command` in a session of its own; `nice` > 0 lowers its priority (and its session's)."""
    with open(files.console_log(name), "ab") as log:
        process = subprocess.Popen(command, cwd=files.state_dir, env=env, stdout=log, stderr=subprocess.STDOUT,
                                   stdin=subprocess.DEVNULL, start_new_session=True)
    lower_priority(nice, process.pid)
    return process.pid


def torchserve_command(config: ServeConfig, files: ServerFiles, store: Path, models: list[str]) -> list[str]:
    torchserve = Path(sys.executable).with_name("torchserve")
    command = [str(torchserve), "--start", "--foreground", "--ncs", "--ts-config", str(files.properties),
               "--log-config", str(LOG_CONFIG), "--model-store", str(store),
               "--models", *[f"{m}={m}.mar" for m in models]]
    return command if config.token_auth else command + ["--disable-token-auth"]


def launch(config: ServeConfig, models: list[str]) -> dict[str, int]:
    """Start TorchServe and the edge in the background; returns their process groups. Does not wait."""
    files = ServerFiles(config.resolved_state_dir())
    store = model_store_dir(config.artifacts)
    missing = [m for m in models if not (store / f"{m}.mar").is_file()]
    if missing:
        raise ServerError(f"no archive for {', '.join(missing)} in {store}; run `make archives` first")
    nginx = find_nginx()
    if nginx is None:
        raise ServerError("nginx is not installed (the inference edge needs it): run `make requirements`, "
                          "or `sudo apt-get install nginx-light`")
    for folder in (files.state_dir / "nginx", files.logs):
        folder.mkdir(parents=True, exist_ok=True)
    files.properties.write_text(render_properties(config, store))
    files.nginx_conf.write_text(render_nginx_conf(config, files.state_dir))
    env = server_environment(config, files)
    groups = {"torchserve": _spawn(torchserve_command(config, files, store, models), files, "torchserve", env)}
    groups["edge"] = _spawn([nginx, "-c", str(files.nginx_conf), "-p", str(files.state_dir)], files, "edge", env,
                            nice=config.edge_priority)
    files.pids.write_text(json.dumps(groups))
    return groups


def api_tokens(files: ServerFiles) -> dict[str, str]:
    """TorchServe's generated keys (key_file.json in its working folder) when token auth is on."""
    try:
        keys = json.loads((files.state_dir / "key_file.json").read_text())
    except (OSError, ValueError):
        return {}
    return {api: keys[api]["key"] for api in ("management", "inference") if api in keys}


def _headers(token: str | None) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"} if token else {}


def _workers_ready(config: ServeConfig, name: str, token: str | None) -> bool:
    try:
        response = requests.get(f"{config.internal_url(config.management_port)}/models/{name}", timeout=5,
                                headers=_headers(token))
        workers = response.json()[0].get("workers", []) if response.ok else []
    except (requests.RequestException, ValueError, IndexError, KeyError):
        return False
    return bool(workers) and all(w.get("status") == "READY" for w in workers)


def _answers(config: ServeConfig, name: str, probe: bytes, token: str | None) -> bool:
    try:
        response = requests.post(f"{config.public_url()}/predictions/{name}", data=probe,
                                 timeout=30, headers=_headers(token))
        return response.status_code == 200 and "label" in response.json()
    except (requests.RequestException, ValueError):
        return False


def load_failures(files: ServerFiles, name: str, since: int) -> int:
    """How often TorchServe reported that `name` failed to load, in ts_log.log from byte `since`."""
    try:
        with open(files.ts_log, "rb") as log:
            log.seek(since)
            text = log.read().decode(errors="replace")
    except OSError:
        return 0
    return len(re.findall(rf"Load model failed: {re.escape(name)},", text))


def wait_until_ready(config: ServeConfig, models: list[str], probe: bytes, report=print, log_since: int = 0) -> None:
    """Block until every model has READY workers and answers a real prediction, or raise: when
    a process exits, when a model failed to load LOAD_ATTEMPTS times, or at the start-up timeout.
    `log_since` is where this start's lines begin in ts_log.log."""
    files = ServerFiles(config.resolved_state_dir())
    deadline = time.monotonic() + config.startup_timeout
    pending = list(models)
    while pending:
        dead = [name for name in PROCESSES if name not in running_groups(files)]
        if dead:
            raise ServerError(f"{' and '.join(dead)} exited during start-up\n{log_tail(files)}")
        broken = [name for name in pending if load_failures(files, name, log_since) >= LOAD_ATTEMPTS]
        if broken:
            raise ServerError(f"{', '.join(broken)} failed to load {LOAD_ATTEMPTS} times; the cause is in "
                              f"the log\n{log_tail(files)}")
        if time.monotonic() > deadline:
            raise ServerError(f"{', '.join(pending)} not ready after {config.startup_timeout:.0f} s\n{log_tail(files)}")
        tokens = api_tokens(files)
        for name in list(pending):
            if _workers_ready(config, name, tokens.get("management")) and _answers(
                config, name, probe, tokens.get("inference")
            ):
                pending.remove(name)
                report(f"[serve] {name} is ready")
        time.sleep(0.5)


def port_in_use(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((host, port)) == 0


def _terminate(pgid: int) -> None:
    try:
        os.killpg(pgid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + STOP_GRACE_S
    while _alive(pgid) and time.monotonic() < deadline:
        time.sleep(0.2)
    if _alive(pgid):
        os.killpg(pgid, signal.SIGKILL)
        deadline = time.monotonic() + 5.0
        while _alive(pgid) and time.monotonic() < deadline:
            time.sleep(0.1)


def stop(config: ServeConfig) -> bool:
    """Stop our serving processes and all their children; False when none was running."""
    files = ServerFiles(config.resolved_state_dir())
    groups = running_groups(files)
    for pgid in groups.values():
        _terminate(pgid)
    files.pids.unlink(missing_ok=True)
    return bool(groups)
