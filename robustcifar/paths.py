"""Where the project keeps its files, resolved from this package's location, never from the cwd.

Every default can be overridden with an environment variable (for containers and CI) or with the
command-line options of each tool.
"""

from __future__ import annotations

import os
from pathlib import Path


def project_root() -> Path:
    """Where the project's files live: $ROBUSTCIFAR_HOME when set; else the checkout this package lives
    in (run from it, or installed from it in editable mode); else, for a package installed into
    site-packages, the current directory (a user's own project folder)."""
    env = os.environ.get("ROBUSTCIFAR_HOME")
    if env:
        return Path(env).resolve()
    checkout = Path(__file__).resolve().parent.parent
    if (checkout / "pyproject.toml").is_file() and (checkout / "robustcifar").is_dir():
        return checkout
    return Path.cwd().resolve()


def artifacts_dir() -> Path:
    """Folder through which training, export, serving and the benchmark hand over files."""
    return Path(os.environ.get("ROBUSTCIFAR_ARTIFACTS", project_root() / "artifacts")).resolve()


def data_dir() -> Path:
    """Downloads and the decoded-array cache."""
    return Path(os.environ.get("ROBUSTCIFAR_DATA", project_root() / "data")).resolve()


def shared_jpeg_tarball() -> Path:
    """The offline JPEG copy of CIFAR-10 that sits next to the checkout on the team's machines."""
    return project_root().parent / "shared" / "data" / "cifar10-jpeg.tar.gz"


def reports_dir() -> Path:
    return Path(os.environ.get("ROBUSTCIFAR_REPORTS", project_root() / "reports")).resolve()
