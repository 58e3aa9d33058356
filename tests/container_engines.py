"""The container engines the tests build and run images with: podman (as root, runc, cgroupfs) and
Docker's own engine (Debian's docker.io). Where no Docker engine answers but dockerd is installed
and this is root, a private dockerd is started for the test session (its own socket, data folder
and no firewall rules) and stopped, its folder removed, at the end.

`docker/engine.sh` owns how the scripts pick an engine and a docker CLI; the tests ask it rather
than repeating its rules.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from container_files import ROOT

ENGINE_SH = ROOT / "docker" / "engine.sh"
BASE = "localhost/robustcifar-base:bookworm"  # docker/local-base.sh makes it where no registry answers
SWITCHED_OFF = os.environ.get("ROBUSTCIFAR_CONTAINER_TESTS") == "0"


def engine_sh(function: str, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """One function of docker/engine.sh, e.g. engine_sh('compose_command')."""
    quoted = " ".join(f"'{a}'" for a in args)
    return subprocess.run(["bash", "-c", f"source '{ENGINE_SH}' && {function} {quoted}"], capture_output=True,
                          text=True, timeout=60, check=False, env=env)


@dataclass
class Engine:
    name: str  # docker or podman
    command: list[str]
    env: dict[str, str] = field(default_factory=lambda: dict(os.environ))

    def __call__(self, *args: str, timeout: float = 120, check: bool = True) -> subprocess.CompletedProcess:
        return subprocess.run([*self.command, *args], capture_output=True, text=True, timeout=timeout, check=check,
                              env=self.env)

    def image_exists(self, name: str) -> bool:
        return self("image", "inspect", name, check=False).returncode == 0

    def remove_images(self, *names: str) -> None:
        for name in names:
            self("rmi", "-f", name, check=False)

    def remove_container(self, name: str) -> None:
        self("rm", "-f", name, check=False, timeout=60)


@contextmanager
def podman_engine() -> Iterator[tuple[Engine | None, str]]:
    """podman (daemonless, nothing to start or stop), or None and why not."""
    if SWITCHED_OFF:
        yield None, "ROBUSTCIFAR_CONTAINER_TESTS=0"
    elif not (shutil.which("podman") and shutil.which("runc")) or os.geteuid() != 0:
        yield None, "needs podman and runc, as root"
    else:
        yield Engine("podman", engine_sh("engine_command", "podman").stdout.split()), ""


def _docker(env: dict[str, str]) -> Engine | None:
    """The docker CLI docker/engine.sh would build with, if a Docker engine answers it."""
    command = engine_sh("engine_command", "docker", env=env)
    if command.returncode != 0:
        return None
    words = command.stdout.split()
    if words[0] == "env":  # env DOCKER_BUILDKIT=1 /usr/bin/docker
        env = {**env, **dict(w.split("=", 1) for w in words[1:-1])}
        words = words[-1:]
    engine = Engine("docker", words, env)
    return engine if engine("info", check=False, timeout=30).returncode == 0 else None


@contextmanager
def docker_engine() -> Iterator[tuple[Engine | None, str]]:
    """Docker's engine: the one running here, else a private dockerd for the session; or None and why."""
    if SWITCHED_OFF:
        yield None, "ROBUSTCIFAR_CONTAINER_TESTS=0"
        return
    running = _docker(dict(os.environ))
    if running:
        yield running, ""
        return
    if not shutil.which("dockerd") or os.geteuid() != 0:
        yield None, "no Docker engine answers, and dockerd cannot be started here (needs docker.io, as root)"
        return
    home = Path(tempfile.mkdtemp(prefix="rc-dockerd-"))
    socket = home / "docker.sock"
    env = {**os.environ, "DOCKER_HOST": f"unix://{socket}"}
    with open(home / "dockerd.log", "wb") as log:
        daemon = subprocess.Popen(
            ["dockerd", "--host", env["DOCKER_HOST"], "--data-root", str(home / "data"), "--exec-root",
             str(home / "exec"), "--pidfile", str(home / "dockerd.pid"), "--iptables=false", "--ip-masq=false"],
            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        engine = None
        while engine is None and daemon.poll() is None and time.monotonic() < deadline:
            time.sleep(0.5)
            engine = _docker(env)
        if engine is None:
            yield None, f"a private dockerd did not start: {(home / 'dockerd.log').read_text()[-500:]}"
        else:
            yield engine, ""
    finally:
        daemon.terminate()
        try:
            daemon.wait(timeout=60)
        except subprocess.TimeoutExpired:
            daemon.kill()
            daemon.wait()
        shutil.rmtree(home, ignore_errors=True)
