"""The scripts in docker/ refuse what they cannot do with a message and exit status 2, before any
build or container starts, and docker/engine.sh keeps an explicit engine choice."""

import os
import subprocess

import pytest
from container_engines import engine_sh
from container_files import ROOT


def script(name: str, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([str(ROOT / "docker" / name), *args], capture_output=True, text=True, timeout=120,
                          check=False, env={**os.environ, **(env or {})})


def test_build_images_refuses_an_unknown_engine():
    done = script("build-images.sh", "--engine", "lxc", "serve")
    assert done.returncode == 2 and "engine must be docker, podman or auto, not lxc" in done.stderr


def test_build_images_refuses_an_unknown_target_before_building():
    done = script("build-images.sh", "--engine", "podman", "serve", "gpu-train")
    assert done.returncode == 2 and "unknown target gpu-train" in done.stderr
    assert "[build-images] built" not in done.stdout


@pytest.mark.parametrize("engine", ["docker", "podman"])
def test_an_explicit_engine_is_kept(engine):
    assert engine_sh("pick_engine", engine).stdout.strip() == engine


def test_podman_runs_with_runc_and_cgroupfs():
    assert engine_sh("engine_command", "podman").stdout.split() == ["podman", "--runtime", "runc",
                                                                     "--cgroup-manager=cgroupfs"]


def test_compose_sh_refuses_an_unknown_action():
    done = script("compose.sh", "launch")
    assert done.returncode == 2 and "usage: docker/compose.sh" in done.stderr


def test_compose_sh_up_refuses_a_model_store_without_archives(tmp_path):
    (tmp_path / "ce_clean.onnx").write_text("not an archive")
    done = script("compose.sh", "up", env={"ROBUSTCIFAR_MODEL_STORE": str(tmp_path)})
    assert done.returncode == 2
    assert f"no model archives (*.mar) in {tmp_path}: run `make archives` first" in done.stderr
