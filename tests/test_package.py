"""The project installs as a package: `pip install .` into a fresh virtualenv gives the `robustcifar`
command, which runs from any directory (here a corruption written from an empty folder)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    venv = tmp_path_factory.mktemp("fresh") / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    python = venv / "bin" / "python"
    subprocess.run(["bash", str(ROOT / "scripts" / "install-torch.sh"), str(python), "2.13.0"], check=True,
                   capture_output=True, timeout=1200)
    done = subprocess.run([str(python), "-m", "pip", "install", "--quiet", str(ROOT)], capture_output=True, text=True,
                          timeout=1200, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    return venv


def test_the_command_lists_its_subcommands(installed, tmp_path):
    done = subprocess.run([str(installed / "bin" / "robustcifar"), "--help"], cwd=tmp_path, capture_output=True,
                          text=True, timeout=120, check=False)
    assert done.returncode == 0 and "train" in done.stdout and "benchmark" in done.stdout and "corrupt" in done.stdout
    unknown = subprocess.run([str(installed / "bin" / "robustcifar"), "nope"], cwd=tmp_path, capture_output=True,
                             text=True, timeout=120, check=False)
    assert unknown.returncode == 2 and "unknown command" in unknown.stderr


def test_a_corruption_runs_from_another_directory(installed, tmp_path):
    images = np.random.default_rng(0).integers(0, 256, (4, 32, 32, 3), dtype=np.uint8)
    np.save(tmp_path / "images.npy", images)
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "ROBUSTCIFAR_HOME")}
    done = subprocess.run([str(installed / "bin" / "robustcifar"), "corrupt", "--images", "images.npy", "--out",
                           "out", "--names", "gaussian_noise", "--severities", "3"], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    written = np.load(tmp_path / "out" / "gaussian_noise.npy")
    assert written.shape == (4, 32, 32, 3) and not np.array_equal(written, images)
    # the package in the fresh venv is the installed one, not this checkout
    where = subprocess.run([str(installed / "bin" / "python"), "-c", "import robustcifar; print(robustcifar.__file__)"],
                           cwd=tmp_path, env=env, capture_output=True, text=True, check=True).stdout
    assert str(installed) in where
