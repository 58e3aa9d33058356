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
from dataclasses import asdict, dataclass, field
from pathlib import Path

import requests

from robustcifar.artifacts import model_store_dir
from robustcifar.errors import UsageError
from robustcifar.priority import lower_priority
from robustcifar.serving.auth import auth_headers, key_file, read_keys
from robustcifar.serving.client import ManagementClient
from robustcifar.serving.protocols import PREDICTIONS, probe_pixels
from robustcifar.worker_settings import worker_environment

from .archives import archive_identity
from .config import LOOPBACK, ServeConfig, render_properties
from .edge import find_nginx, render_nginx_conf, write_health_files

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


def boot_id() -> str:
    """This boot of the machine (Linux), so that pids recorded before a reboot are never trusted."""
    try:
        return Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    except OSError:
        return ""


def start_ticks(pid: int) -> int | None:
    """When process `pid` started, in clock ticks since boot (field 22 of /proc/<pid>/stat); None
    when there is no such process."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return int(stat.rsplit(")", 1)[1].split()[19])


@dataclass
class ServerRecord:
    """server.json: which process groups are ours, and what they serve.

    A pid file alone cannot tell our process from another that got the same pid after a reboot or
    a crash: each group's leader is recorded with the boot and the leader's start time, and a group
    counts as ours only on the same boot, when its leader still has that start time or has exited
    while the group lives on (a process-group id is not reused while any member is alive).
    """

    groups: dict[str, int]  # process name -> process group id (= its leader's pid)
    boot: str = ""
    leaders: dict[str, int | None] = field(default_factory=dict)  # name -> the leader's start ticks
    models: dict[str, str] = field(default_factory=dict)  # model -> archive_identity of what is served
    log_since: int = 0  # where this start's lines begin in ts_log.log
    host: str = ""  # the edge's address, and the ports: what serve/healthcheck.py probes
    inference_port: int = 0
    management_port: int = 0

    @classmethod
    def of_processes(cls, groups: dict[str, int], config: ServeConfig, models: dict[str, str],
                     log_since: int) -> ServerRecord:
        return cls(dict(groups), boot_id(), {name: start_ticks(pid) for name, pid in groups.items()}, dict(models),
                   log_since, config.host, config.inference_port, config.management_port)

    def save(self, path: Path) -> None:
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(json.dumps(asdict(self), indent=2) + "\n")
        tmp.replace(path)

    @classmethod
    def load(cls, path: Path) -> ServerRecord | None:
        """The record, or None when there is none or it cannot be read (an older format included)."""
        try:
            raw = json.loads(path.read_text())
            return cls(groups={k: int(v) for k, v in raw["groups"].items()}, boot=raw["boot"],
                       leaders=raw["leaders"], models=raw.get("models", {}), log_since=int(raw.get("log_since", 0)),
                       host=raw.get("host", ""), inference_port=int(raw.get("inference_port", 0)),
                       management_port=int(raw.get("management_port", 0)))
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            return None

    def is_ours(self, name: str) -> bool:
        pgid = self.groups[name]
        if self.boot != boot_id():
            return False
        now = start_ticks(pgid)
        if now is not None:  # the leader (or a process that reused its pid) exists
            return now == self.leaders.get(name)
        return _alive(pgid)


def running_groups(files: ServerFiles) -> dict[str, int]:
    """Process groups of our live serving processes; a stale record (nothing of ours alive, another
    boot, pids now used by other programs) is removed, and nothing of it is ever signalled."""
    record = ServerRecord.load(files.pids)
    if record is None:
        files.pids.unlink(missing_ok=True)
        return {}
    alive = {name: pgid for name, pgid in record.groups.items() if record.is_ours(name) and _alive(pgid)}
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
    temp = str(_private_temp_dir(files))
    env.update({
        "LOG_LOCATION": str(files.logs),
        "METRICS_LOCATION": str(files.logs),
        "TMPDIR": temp,  # read by the torchserve launcher (pid file) and the Python workers
        "TEMP": temp,  # read by the launcher to set the JVM's java.io.tmpdir (worker sockets)
        **worker_environment(config.resolved_ort_threads()),
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


def check_ports_free(config: ServeConfig) -> None:
    busy = [f"{config.host}:{config.inference_port}"] if port_in_use(config.host, config.inference_port) else []
    busy += [f"{LOOPBACK}:{p}" for p in config.loopback_ports() if port_in_use(LOOPBACK, p)]
    if busy:
        raise ServerError(f"{', '.join(busy)} taken by another program; stop it or pick other ports")


def require_archives(store: Path, models: list[str]) -> None:
    missing = [m for m in models if not (store / f"{m}.mar").is_file()]
    if missing:
        raise ServerError(f"no archive for {', '.join(missing)} in {store}; run `make archives` first")


def prepare_state(config: ServeConfig, store: Path, models: list[str]) -> ServerFiles:
    """Everything that can fail before a process starts: archives, nginx, ports; then the state
    folder with TorchServe's and nginx's rendered configuration."""
    require_archives(store, models)
    if find_nginx() is None:
        raise ServerError("nginx is not installed (the inference edge needs it): run `make requirements`, "
                          "or `sudo apt-get install nginx-light`")
    check_ports_free(config)
    files = ServerFiles(config.resolved_state_dir())
    for folder in (files.state_dir / "nginx", files.logs):
        folder.mkdir(parents=True, exist_ok=True)
    files.properties.write_text(render_properties(config, store))
    files.nginx_conf.write_text(render_nginx_conf(config, files.state_dir))
    write_health_files(files.state_dir)
    return files


def edge_command(files: ServerFiles, log_to_stderr: bool = False) -> list[str]:
    return [find_nginx(), *(["-e", "stderr"] if log_to_stderr else []), "-c", str(files.nginx_conf),
            "-p", str(files.state_dir)]


def served_identities(store: Path, models: list[str]) -> dict[str, str]:
    return {m: archive_identity(store / f"{m}.mar") for m in models}


def launch(config: ServeConfig, models: list[str]) -> dict[str, int]:
    """Start TorchServe and the edge in the background; returns their process groups. Does not wait."""
    store = model_store_dir(config.artifacts)
    files = prepare_state(config, store, models)
    log_since = files.ts_log_size()
    env = server_environment(config, files)
    groups = {"torchserve": _spawn(torchserve_command(config, files, store, models), files, "torchserve", env)}
    groups["edge"] = _spawn(edge_command(files), files, "edge", env, nice=config.edge_priority)
    ServerRecord.of_processes(groups, config, served_identities(store, models), log_since).save(files.pids)
    return groups


def api_tokens(files: ServerFiles) -> dict[str, str]:
    """TorchServe's generated keys (key_file.json in its working folder) when token auth is on."""
    path = key_file(files.state_dir)
    return read_keys(path) if path.is_file() else {}


def _answers(config: ServeConfig, name: str, token: str | None) -> bool:
    """Whether the model answers a real prediction through the edge."""
    body, headers = PREDICTIONS.request(probe_pixels())
    try:
        response = requests.post(f"{config.public_url()}{PREDICTIONS.path(name)}", data=body, timeout=30,
                                 headers={**headers, **auth_headers(token)})
    except requests.RequestException:
        return False
    return PREDICTIONS.is_valid(response.status_code, response.content)


def load_failures(files: ServerFiles, name: str, since: int) -> int:
    """How often TorchServe reported that `name` failed to load, in ts_log.log from byte `since`."""
    try:
        with open(files.ts_log, "rb") as log:
            log.seek(since)
            text = log.read().decode(errors="replace")
    except OSError:
        return 0
    return len(re.findall(rf"Load model failed: {re.escape(name)},", text))


def wait_until_ready(config: ServeConfig, models: list[str], report=print, log_since: int | None = None) -> None:
    """Block until every model has READY workers and answers a real prediction, or raise: when
    a process exits, when a model failed to load LOAD_ATTEMPTS times in this start, or at the
    start-up timeout. `log_since`, where this start's lines begin in ts_log.log (which every start
    appends to), comes from server.json unless given."""
    files = ServerFiles(config.resolved_state_dir())
    if log_since is None:
        record = ServerRecord.load(files.pids)
        log_since = record.log_since if record else files.ts_log_size()
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
        try:
            tokens = api_tokens(files)
        except UsageError:  # TorchServe writes key_file.json in place: it may be empty or half written
            tokens = {}
        for name in list(pending):
            management = ManagementClient(config.management_url(), tokens.get("management"))
            if management.ready(name) and _answers(config, name, tokens.get("inference")):
                pending.remove(name)
                report(f"[serve] {name} is ready")
        time.sleep(0.5)


def port_in_use(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((host, port)) == 0


def terminate_groups(pgids: list[int], alive=_alive, grace_s: float = STOP_GRACE_S, report=None) -> None:
    """SIGTERM every group, wait up to `grace_s` for all to end, then SIGKILL what is left.
    `alive(pgid)` tells whether a group lives (and may reap it); a supervisor passes its own."""
    def signal_all(signum: int) -> None:
        for pgid in pgids:
            try:
                os.killpg(pgid, signum)
            except (ProcessLookupError, PermissionError):
                pass

    def wait(seconds: float) -> bool:
        deadline = time.monotonic() + seconds
        while any(alive(pgid) for pgid in pgids):
            if time.monotonic() > deadline:
                return False
            time.sleep(0.2)
        return True

    signal_all(signal.SIGTERM)
    if not wait(grace_s):
        if report:
            report(f"[serve] still running after {grace_s:.0f} s: killing")
        signal_all(signal.SIGKILL)
        wait(5.0)


def stop(config: ServeConfig) -> bool:
    """Stop our serving processes and all their children; False when none was running."""
    files = ServerFiles(config.resolved_state_dir())
    groups = running_groups(files)
    terminate_groups(list(groups.values()))
    files.pids.unlink(missing_ok=True)
    return bool(groups)
