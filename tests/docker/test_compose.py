"""docker/compose.yaml and its override files against the Compose specification's JSON schema, and
what the deployment promises: only inference published, on loopback by default, the model store
read-only, training with the GPUs. test_compose_run.py runs the file."""

import subprocess

import jsonschema
import pytest
from container_engines import engine_sh
from container_files import (
    COMPOSE,
    COMPOSE_GPU,
    COMPOSE_REPLICAS,
    COMPOSE_SHARED_DATA,
    ROOT,
    load_compose,
)


def schema_errors(schema, document):
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message}"
            for e in jsonschema.Draft201909Validator(schema).iter_errors(document)]


@pytest.mark.parametrize("path", [COMPOSE, COMPOSE_GPU, COMPOSE_REPLICAS, COMPOSE_SHARED_DATA], ids=lambda p: p.name)
def test_compose_files_follow_the_compose_schema(compose_schema, path):
    assert schema_errors(compose_schema, load_compose(path)) == []


def test_the_schema_check_can_fail(compose_schema, compose):
    broken = {**compose, "services": {**compose["services"], "serve": {**compose["services"]["serve"],
                                                                        "port": ["8080:8080"]}}}
    assert any("port" in error for error in schema_errors(compose_schema, broken))


def published(service):
    """(host address, host port, container port) of each published port (short syntax)."""
    rows = []
    for entry in service.get("ports", []):
        parts = str(entry).split(":")
        assert len(parts) == 3, f"publish with an explicit host address: {entry}"
        rows.append((parts[0], parts[1], parts[2]))
    return rows


def test_only_inference_is_published_and_on_loopback_by_default(compose):
    assert published(compose["services"]["serve"]) == [("127.0.0.1", "8080", "8080")]
    for name, service in compose["services"].items():
        if name != "serve":
            assert "ports" not in service, f"{name} publishes ports"
        assert "expose" not in service


def test_the_bind_address_can_be_opened_on_purpose():
    opened = load_compose(COMPOSE, {"ROBUSTCIFAR_BIND": "0.0.0.0", "ROBUSTCIFAR_PORT": "9000"})
    assert published(opened["services"]["serve"]) == [("0.0.0.0", "9000", "8080")]


def test_the_model_store_is_mounted_read_only(compose):
    (store,) = [v for v in compose["services"]["serve"]["volumes"] if isinstance(v, dict) and v["target"] == "/models"]
    assert store["type"] == "bind" and store["read_only"] is True


def test_services_build_targets_that_exist(compose, dockerfile_stages):
    for name, service in compose["services"].items():
        assert service["build"]["dockerfile"] == "docker/Dockerfile" and service["build"]["context"] == ".."
        assert service["build"]["target"] in dockerfile_stages, name


def gpu_devices(service):
    return service["deploy"]["resources"]["reservations"]["devices"]


def test_training_gets_the_gpus_and_uses_torchrun(compose):
    train = compose["services"]["train"]
    assert train["profiles"] == ["train"] and gpu_devices(train)[0]["capabilities"] == ["gpu"]
    assert "torchrun" in " ".join(train["command"]) and "-m training" in " ".join(train["command"])


def test_optional_services_stay_out_of_a_plain_up(compose):
    assert "profiles" not in compose["services"]["serve"]
    assert compose["services"]["benchmark"]["profiles"] == ["benchmark"]


def test_gpu_override_requests_cuda_and_a_gpu():
    serve = load_compose(COMPOSE_GPU)["services"]["serve"]
    assert serve["build"]["args"]["ORT_PROVIDER"] == "cuda"
    assert serve["build"]["args"]["ORT_REQUIREMENT"].startswith("onnxruntime-gpu[cuda,cudnn]==")
    assert gpu_devices(serve)[0]["driver"] == "nvidia"


def compose_cli():
    """The Compose docker/compose.sh would use (docker/engine.sh), or None; it loads files without an engine."""
    found = engine_sh("compose_command")
    return found.stdout.split() if found.returncode == 0 else None


@pytest.mark.skipif(compose_cli() is None, reason="no docker compose / docker-compose here (the schema test still runs)")
def test_compose_itself_loads_and_merges_the_files():
    for files in (["-f", str(COMPOSE)], ["-f", str(COMPOSE), "-f", str(COMPOSE_GPU)], ["-f", str(COMPOSE_REPLICAS)],
                  ["-f", str(COMPOSE), "-f", str(COMPOSE_SHARED_DATA)]):
        result = subprocess.run([*compose_cli(), "-p", "robustcifar", *files, "--profile", "benchmark",
                                 "--profile", "train", "config", "--quiet"], capture_output=True, text=True,
                                timeout=120, check=False)
        assert result.returncode == 0, result.stdout + result.stderr


def test_replicas_publish_only_the_balancer():
    replicas = load_compose(COMPOSE_REPLICAS)
    serve, lb = replicas["services"]["serve"], replicas["services"]["lb"]
    assert "ports" not in serve and serve["deploy"]["replicas"] == 3
    assert published(lb) == [("127.0.0.1", "8080", "8080")]
    # Each replica would make keys of its own, and no single key would work through the balancer.
    assert serve["command"] == ["--no-token-auth"]
    assert lb["depends_on"]["serve"]["condition"] == "service_healthy"


def test_load_balancer_config_is_valid_nginx(tmp_path):
    from serve.edge import find_nginx

    nginx = find_nginx()
    assert nginx, "nginx is a system requirement of the project (make requirements)"
    conf = ROOT / "docker" / "lb" / "nginx.conf"
    result = subprocess.run([nginx, "-t", "-q", "-c", str(conf), "-p", str(tmp_path), "-e", str(tmp_path / "error.log")],
                            capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0, result.stderr
