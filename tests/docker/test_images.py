"""The Dockerfile, checked without a Docker engine: hadolint, and what the serving image promises
(non-root, readiness HEALTHCHECK, the supervisor as entrypoint, no secrets, pins that agree)."""

import re
import subprocess

import pytest
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


@pytest.mark.parametrize("target", ["serve", "serve-baked", "work"])
def test_images_run_as_a_numeric_non_root_user(dockerfile_stages, target):
    users = [user for stage in stage_chain(dockerfile_stages, target) for user in stage.all("USER")]
    assert users, f"{target} never sets USER"
    uid = users[-1].split(":")[0]
    assert uid.isdigit() and int(uid) != 0


def test_serving_image_checks_readiness_and_runs_the_supervisor(dockerfile_stages):
    serve = dockerfile_stages["serve"]
    (healthcheck,) = serve.all("HEALTHCHECK")
    assert '"serve.healthcheck"' in healthcheck and '"/home/app/state"' in healthcheck
    (entrypoint,) = serve.all("ENTRYPOINT")
    assert entrypoint.startswith('["python", "-m", "serve.foreground"')
    assert '"--model-store", "/models"' in entrypoint and '"--state-dir", "/home/app/state"' in entrypoint
    assert serve.all("EXPOSE") == ["8080"]


def test_baked_image_takes_its_store_from_the_archive_stage(dockerfile_stages):
    assert dockerfile_stages["serve-baked"].base == "serve"
    assert "--from=model-store /build/artifacts/model-store /models" in dockerfile_stages["serve-baked"].all("COPY")
    assert any("python -m serve archive" in run for run in dockerfile_stages["model-store"].all("RUN"))


def test_no_secret_is_baked_in(dockerfile_stages):
    for stage in dockerfile_stages.values():
        for keyword in ("ENV", "ARG", "LABEL"):
            for args in stage.all(keyword):
                names = re.findall(r"([A-Za-z_][A-Za-z0-9_]*)=", args) or [args.split()[0]]
                assert not [n for n in names if SECRET_WORDS.search(n)], f"{stage.name}: {keyword} {args}"


def test_build_context_is_an_allow_list():
    ignore = (ROOT / "docker" / "Dockerfile.dockerignore").read_text().splitlines()
    rules = [line.strip() for line in ignore if line.strip() and not line.startswith("#")]
    assert rules[0] == "*", "everything is excluded first, then sources are let in"
    let_in = [rule[1:] for rule in rules if rule.startswith("!")]
    assert not [rule for rule in let_in if rule.startswith((".env", "data", "logs", "reports", ".venv"))]
    assert not [rule for rule in let_in if rule.startswith("artifacts") and rule.endswith("model.pt")]


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


def test_work_image_has_the_makefile_install_stamp(dockerfile_stages):
    stamp = re.search(r"^STAMP := \$\(VENV\)/(\S+)", (ROOT / "Makefile").read_text(), re.MULTILINE).group(1)
    runs = " ".join(dockerfile_stages["work"].all("RUN"))
    assert f"touch /app/.venv/{stamp}" in runs


def test_reader_sees_continuations_and_stages(tmp_path):
    path = tmp_path / "Dockerfile"
    path.write_text("FROM a AS one\nRUN x \\\n    && y\nFROM one AS two\nUSER 1:1\n")
    stages = read_dockerfile(path)
    assert stages["one"].all("RUN") == ["x && y"]
    assert [s.name for s in stage_chain(stages, "two")] == ["one", "two"]
