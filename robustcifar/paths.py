"""Where the project keeps its files, resolved from this package's location, never from the cwd.

Every default can be overridden with an environment variable (for containers and CI) or with the
command-line options of each tool.
"""

from __future__ import annotations

import os
from pathlib import Path


def project_root() -> Path:
    """The checkout this package lives in, or $ROBUSTCIFAR_HOME when installed elsewhere."""
    env = os.environ.get("ROBUSTCIFAR_HOME")
    if env:
        return Path(env).resolve()
    return Path(__file__).resolve().parent.parent


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
