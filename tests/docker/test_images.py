"""The Dockerfile's text: hadolint, no secret in ENV/ARG/LABEL, an allow-listed build context, and
pins that agree with requirements.txt and the Makefile. What the images do when built and run
(user, supervisor, health check, baked store, the work image's make) is checked by building and
running them: test_container.py and test_compose_run.py."""

import os
import re
import shutil
import subprocess

import pytest
from container_engines import BASE
from container_files import DOCKERFILE, ROOT, read_dockerfile, stage_chain

SECRET_WORDS = re.compile(r"(KEY|TOKEN|PASSWORD|PASSWD|SECRET|CREDENTIAL)", re.IGNORECASE)


def pins(path):
    found = {}
    for line in path.read_text().splitlines():
        line = line.split("#")[0].strip()
        if "==" in line:
            name, version = line.split("==")
            found[name.split("[")[0].strip().lower()] = version.strip()
    return found


def lint(hadolint, path):
    return subprocess.run([hadolint, "--failure-threshold", "info", "--no-color", str(path)], capture_output=True,
                          text=True, timeout=120, check=False)


def every_dockerfile():
    return sorted(p for p in ROOT.rglob("Dockerfile*") if not p.name.endswith(".dockerignore")
                  and ".venv" not in p.parts)


def test_the_dockerfile_is_found():
    assert DOCKERFILE in every_dockerfile()


@pytest.mark.parametrize("path", every_dockerfile(), ids=lambda p: str(p.relative_to(ROOT)))
def test_hadolint_passes(hadolint, path):
    result = lint(hadolint, path)
    assert result.returncode == 0, result.stdout + result.stderr


def test_hadolint_does_fail_on_a_bad_dockerfile(hadolint, tmp_path):
    bad = tmp_path / "Dockerfile"
    bad.write_text("FROM python:3.11-slim\nRUN pip install requests\nUSER root\n")
    result = lint(hadolint, bad)
    assert result.returncode != 0 and "DL3013" in result.stdout and "DL3002" in result.stdout


def test_no_secret_is_baked_in(dockerfile_stages):
    for stage in dockerfile_stages.values():
        for keyword in ("ENV", "ARG", "LABEL"):
            for args in stage.all(keyword):
                names = re.findall(r"([A-Za-z_][A-Za-z0-9_]*)=", args) or [args.split()[0]]
                assert not [n for n in names if SECRET_WORDS.search(n)], f"{stage.name}: {keyword} {args}"


CONTEXT_FILES = {  # path in a checkout: whether the build context lets it in
    "pyproject.toml": True, "Makefile": True, "serve/handler.py": True, "robustcifar/__init__.py": True,
    "docker/requirements-serve.txt": True, "docker/compose.yaml": False,
    "artifacts/ce_clean/model.onnx": True, "artifacts/ce_clean/meta.json": True, "artifacts/angular/gallery.npz": True,
    "artifacts/ce_clean/model.pt": False, "artifacts/ce_clean/train/metrics.json": False,
    "artifacts/model-store/ce_clean.mar": False, "artifacts/.env": False, ".env": False, "data/cache/x.npz": False,
    "logs/serve.log": False, "reports/run/summary.json": False, ".venv/bin/python": False,
    "serve/__pycache__/handler.cpython-311.pyc": False, ".git/config": False,
}


@pytest.fixture(params=["podman", "docker"])
def engine_images(request):
    images = request.getfixturevalue(f"{request.param}_images")
    images.need("serve")  # and so the base image
    return images


@pytest.mark.slow
@pytest.mark.integration
def test_the_build_context_lets_in_only_sources_and_serving_files(engine_images, tmp_path):
    context = tmp_path / "context"
    for name in CONTEXT_FILES:
        (context / name).parent.mkdir(parents=True, exist_ok=True)
        (context / name).write_text("x")
    probe = tmp_path / "Probe"
    probe.write_text(f"FROM {BASE}\nCOPY . /ctx\nRUN cd /ctx && find . -type f | sort\n")
    shutil.copy(ROOT / "docker" / "Dockerfile.dockerignore", tmp_path / "Probe.dockerignore")
    engine = engine_images.engine
    extra = ["--ignorefile", str(tmp_path / "Probe.dockerignore")] if engine.name == "podman" else ["--progress", "plain"]
    built = engine("build", "--no-cache", *extra, "-f", str(probe), "-t", f"rc-probe-{os.getpid()}", str(context),
                   timeout=300, check=False)
    engine.remove_images(f"rc-probe-{os.getpid()}")
    assert built.returncode == 0, built.stdout[-2000:] + built.stderr[-2000:]
    listed = {line.split("./", 1)[1] for line in (built.stdout + built.stderr).splitlines() if " ./" in f" {line}"}
    assert listed == {name for name, allowed in CONTEXT_FILES.items() if allowed}


def test_serving_pins_agree_with_requirements_txt(dockerfile_stages):
    project = pins(ROOT / "requirements.txt")
    serving = pins(ROOT / "docker" / "requirements-serve.txt")
    assert serving and all(project.get(name) == version for name, version in serving.items()), (serving, project)
    args = " ".join(dockerfile_stages["serve-runtime"].all("ARG"))
    assert f"ORT_REQUIREMENT=onnxruntime=={project['onnxruntime']}" in args
    gpu = (ROOT / "docker" / "compose.gpu.yaml").read_text()
    assert f"onnxruntime-gpu[cuda,cudnn]=={project['onnxruntime']}" in gpu


def test_torch_version_agrees_with_the_makefile(dockerfile_stages):
    makefile_version = re.search(r"^TORCH_VERSION \?= (\S+)", (ROOT / "Makefile").read_text(), re.MULTILINE).group(1)
    for stage in ("serve-runtime", "work"):
        assert f"TORCH_VERSION={makefile_version}" in dockerfile_stages[stage].all("ARG")


def test_reader_sees_continuations_and_stages(tmp_path):
    path = tmp_path / "Dockerfile"
    path.write_text("FROM a AS one\nRUN x \\\n    && y\nFROM one AS two\nUSER 1:1\n")
    stages = read_dockerfile(path)
    assert stages["one"].all("RUN") == ["x && y"]
    assert [s.name for s in stage_chain(stages, "two")] == ["one", "two"]
