"""`python -m serve.foreground [--model-store DIR] [serve options]`: TorchServe and its nginx edge
run as one foreground process, the entrypoint of the serving container (docker/Dockerfile).

Why a small supervisor rather than `exec torchserve` as PID 1:
  * `torchserve --foreground` is a Python launcher that starts the Java frontend and waits for it.
    It does not pass SIGTERM on, and as PID 1, which the kernel shields from every signal it has no
    handler for, it would not even die of it: `docker stop` would end in a SIGKILL after the grace
    period, with no clean shutdown of the workers.
  * With TorchServe as PID 1, nginx would be an unwatched side process: if it died, the container
    would go on running with its only published port closed.
So this process starts both, each in a process group of its own, and
  * exits as soon as either one exits, non-zero when nobody asked for it (a restart policy then
    brings the container back), after stopping the other;
  * on SIGTERM or SIGINT stops both groups (every Java and Python worker with them), escalating
    to SIGKILL after a grace period, and exits 0;
  * exits non-zero when the models are not ready within --startup-timeout (a container that can
    never answer should fail where it is seen, not idle);
  * reaps orphaned processes, as PID 1 must (it also asks Linux to make it their subreaper, so
    that runs outside a container behave the same).

What differs from `python -m serve start`: token authorization is on by default; the edge listens
on --host (0.0.0.0: every interface of the container, whose port mapping decides what is
published) while TorchServe's inference, management and metrics APIs stay on --host (loopback);
the model store is any folder and by default all of its archives are served; logs go to stdout.
TorchServe writes its API keys to key_file.json in the state folder: see docker/README.md.
"""

from __future__ import annotations

import ctypes
import multiprocessing
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

from robustcifar.artifacts import model_store_dir
from robustcifar.config import parse_config
from robustcifar.onnx_model import (
    PROVIDER_CHAINS,
    OnnxModel,
    ProviderUnavailable,
    providers_from_environment,
)
from robustcifar.serving.auth import key_file

from .config import ServeConfig
from .server import (
    STOP_GRACE_S,
    ServerError,
    ServerFiles,
    ServerRecord,
    edge_command,
    prepare_state,
    process_group_alive,
    served_identities,
    server_environment,
    terminate_groups,
    torchserve_command,
    wait_until_ready,
)

POLL_S = 0.2
# Without a handler, Linux would not deliver these to PID 1 at all.
STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)
PR_SET_CHILD_SUBREAPER = 36


@dataclass
class ForegroundConfig(ServeConfig):
    model_store: Path | None = field(default=None, metadata={
        "help": "folder of .mar archives (default: <artifacts>/model-store)"})
    # Container defaults: the edge on every address (the port mapping decides who reaches it),
    # TorchServe's own APIs on loopback as always, and API keys required.
    host: str = field(default="0.0.0.0", metadata={"help": "address of the public inference edge"})
    token_auth: bool = field(default=True, metadata={
        "help": "require TorchServe's API keys (written to key_file.json in the state folder)"})
    token_expiration_min: float = field(default=60 * 24 * 365, metadata={
        "help": "lifetime of the management and inference keys; new ones are made at every start "
                "(TorchServe's own default, 60, would make a long-running container refuse every call after an hour)"})

    def resolved_model_store(self) -> Path:
        return Path(self.model_store) if self.model_store else model_store_dir(self.artifacts)


def archived_models(store: Path, requested: str) -> list[str]:
    """The models to serve: every archive in the store for 'all', else the named ones, which must exist."""
    if not store.is_dir():
        raise ServerError(f"the model store {store} does not exist: mount one, or build the image with the models baked in")
    present = sorted(path.stem for path in store.glob("*.mar"))
    if requested.strip() == "all":
        if not present:
            raise ServerError(f"no .mar archive in the model store {store}; build them with `python -m serve archive`")
        return present
    names = [name.strip() for name in requested.split(",") if name.strip()]
    missing = [name for name in names if name not in present]
    if missing or not names:
        raise ServerError(f"no archive for {', '.join(missing) or 'any model'} in {store} "
                          f"(it holds: {', '.join(present) or 'nothing'})")
    return names


def _open_session(archive: Path, providers: list[str]) -> None:
    try:
        with zipfile.ZipFile(archive) as mar, tempfile.TemporaryDirectory() as tmp:
            onnx_path = Path(tmp) / "model.onnx"
            onnx_path.write_bytes(mar.read("model.onnx"))
            OnnxModel(onnx_path, threads=1, providers=providers)
    except ProviderUnavailable:
        raise
    # onnxruntime's own errors share no base class but Exception; each becomes one clear line
    # (which also pickles back across the process boundary, as they do not always).
    except Exception as exc:  # noqa: BLE001
        raise ProviderUnavailable(f"could not open {archive.name}'s model with {providers[0]}: "
                                  f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}") from None


def check_execution_provider(store: Path, models: list[str]) -> str:
    """Fail before anything starts when $ROBUSTCIFAR_ORT_PROVIDER asks for a device that cannot run.

    The workers would raise the same error, but TorchServe retries failed workers for ever, so the
    container would sit unready instead of stopping. Opening one real session catches both a wheel
    without the provider and CUDA libraries that do not load; it is opened in a short-lived
    process, so that this one, which lives as long as the container, holds no CUDA context.
    """
    providers = providers_from_environment()
    if providers == PROVIDER_CHAINS["cpu"]:
        return "cpu"
    with multiprocessing.get_context("spawn").Pool(1) as pool:
        pool.apply(_open_session, (store / f"{models[0]}.mar", providers))
    return providers[0]


def _become_subreaper() -> bool:
    """Orphans of our children come to us instead of to the machine's init (Linux only)."""
    if os.getpid() == 1:
        return True
    try:
        return ctypes.CDLL(None, use_errno=True).prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


class Supervisor:
    """Runs named commands, each in its own process group, until one exits or a stop is asked for."""

    def __init__(self, grace_s: float = STOP_GRACE_S, report=print, reap_orphans: bool = False) -> None:
        """`reap_orphans`: wait for any child process, not only ours; right for PID 1 or a subreaper,
        wrong inside a process that has children of its own (a test runner)."""
        self.grace_s = grace_s
        self.report = report
        self.reap_orphans = reap_orphans
        self.children: dict[str, subprocess.Popen] = {}
        self.exit_codes: dict[str, int] = {}
        self.stop_reason: str | None = None
        self.failed = False

    def start(self, name: str, command: list[str], cwd: Path, env: dict[str, str]) -> int:
        # start_new_session: the child leads a new process group, so one killpg reaches the Java
        # frontend with its Python workers, or nginx with its workers.
        process = subprocess.Popen(command, cwd=cwd, env=env, stdin=subprocess.DEVNULL, start_new_session=True)
        self.children[name] = process
        return process.pid

    def request_stop(self, reason: str, failed: bool = False) -> None:
        """Ask for everything to stop; the first reason given is the one reported."""
        if self.stop_reason is None:
            self.stop_reason, self.failed = reason, failed

    def _reap(self) -> None:
        """Collect exited children, recording their status; as a reaper, also any orphan handed to us."""
        if not self.reap_orphans:
            for name, process in self.children.items():
                if name not in self.exit_codes and process.poll() is not None:
                    self.exit_codes[name] = process.returncode
            return
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            for name, process in self.children.items():
                if process.pid == pid:
                    process.returncode = os.waitstatus_to_exitcode(status)
                    self.exit_codes[name] = process.returncode

    def _group_alive(self, pgid: int) -> bool:
        self._reap()
        return process_group_alive(pgid)

    def run(self) -> int:
        """Supervise until a child exits or a stop is requested; then stop all groups and return the exit code."""
        while self.stop_reason is None:
            self._reap()
            for name, code in self.exit_codes.items():
                self.request_stop(f"{name} exited with status {code} without being asked to", failed=True)
            time.sleep(POLL_S)
        self.report(f"[serve] stopping: {self.stop_reason}")
        self._stop_all()
        return 1 if self.failed else 0

    def _stop_all(self) -> None:
        terminate_groups([p.pid for p in self.children.values()], self._group_alive, self.grace_s, self.report)
        self._reap()


def prepare(config: ForegroundConfig) -> tuple[ServerFiles, Path, list[str], str]:
    """Everything that can fail before a process starts: models, device, tools, ports, config files."""
    store = config.resolved_model_store()
    models = archived_models(store, config.models)
    device = check_execution_provider(store, models)
    return prepare_state(config, store, models), store, models, device


def _watch_readiness(config: ForegroundConfig, models: list[str], supervisor: Supervisor) -> threading.Thread:
    """Announce each model once it answers; stop the container if they are not all ready in time."""

    def watch() -> None:
        try:
            wait_until_ready(config, models, report=lambda line: print(line, flush=True))
        except ServerError as exc:
            supervisor.request_stop(str(exc).splitlines()[0], failed=True)
            return
        auth = f"token authorization on, keys in {key_file(config.resolved_state_dir())}" \
            if config.token_auth else "token authorization OFF"
        print(f"[serve] all {len(models)} models answer at {config.public_url()}"
              f"/predictions/<model> ({auth})", flush=True)

    thread = threading.Thread(target=watch, name="readiness", daemon=True)
    thread.start()
    return thread


def serve_in_foreground(config: ForegroundConfig) -> int:
    supervisor = Supervisor(reap_orphans=_become_subreaper())
    for signum in STOP_SIGNALS:
        signal.signal(signum, lambda num, _frame: supervisor.request_stop(f"received {signal.Signals(num).name}"))
    files, store, models, device = prepare(config)
    print(f"[serve] serving {', '.join(models)} from {store} on onnxruntime device {device}; "
          f"state and logs in {files.state_dir}", flush=True)
    env = server_environment(config, files)
    if supervisor.stop_reason is None:
        # this start's lines begin here: a restarted container on the same state folder must not count
        # the model-load failures of earlier starts (the log is appended to)
        log_since = files.ts_log_size()
        groups = {
            "torchserve": supervisor.start("torchserve", torchserve_command(config, files, store, models),
                                           files.state_dir, env),
            "edge": supervisor.start("edge", edge_command(files, log_to_stderr=True), files.state_dir, env),
        }
        # the same server.json as `serve start` writes: `serve status`, `serve stop`, wait_until_ready
        # and serve/healthcheck.py all read it
        ServerRecord.of_processes(groups, config, served_identities(store, models), log_since).save(files.pids)
        _watch_readiness(config, models, supervisor)
    code = supervisor.run()
    files.pids.unlink(missing_ok=True)
    return code


def main(argv: list[str] | None = None) -> int:
    config = parse_config(ForegroundConfig, argv, __doc__.split("\n\n")[0])
    try:
        return serve_in_foreground(config)
    except (ServerError, ProviderUnavailable, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr, flush=True)
        return 1


if __name__ == "__main__":
    sys.exit(main())
