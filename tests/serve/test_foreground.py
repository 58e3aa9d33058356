"""The container entrypoint's parts without TorchServe: model discovery, rendered configs, the
device check, and the supervisor's stop rules on plain shell processes."""

import os
import threading
import time
import zipfile

import pytest
from onnx import TensorProto, helper

from robustcifar.artifacts import INPUT_NAME
from robustcifar.config import parse_config
from robustcifar.onnx_model import PROVIDER_ENV, ProviderUnavailable
from serve.config import render_properties
from serve.edge import render_nginx_conf
from serve.foreground import (
    ForegroundConfig,
    Supervisor,
    archived_models,
    check_execution_provider,
)
from serve.server import ServerError, process_group_alive


@pytest.fixture
def store(tmp_path):
    folder = tmp_path / "store"
    folder.mkdir()
    for name in ("ce_clean", "angular"):
        (folder / f"{name}.mar").write_bytes(b"placeholder")
    (folder / "notes.txt").write_text("not an archive")
    return folder


def test_all_means_every_archive_in_the_store(store):
    assert archived_models(store, "all") == ["angular", "ce_clean"]


def test_named_models_must_be_in_the_store(store):
    assert archived_models(store, "ce_clean") == ["ce_clean"]
    with pytest.raises(ServerError, match="no archive for ce_corrupted .*it holds: angular, ce_clean"):
        archived_models(store, "ce_clean,ce_corrupted")


def test_an_empty_or_missing_store_is_a_clear_error(tmp_path):
    with pytest.raises(ServerError, match="no .mar archive"):
        archived_models(tmp_path, "all")
    with pytest.raises(ServerError, match="does not exist"):
        archived_models(tmp_path / "absent", "all")


def test_container_defaults_token_auth_on_and_can_turn_it_off():
    assert ForegroundConfig().token_auth is True
    assert parse_config(ForegroundConfig, ["--no-token-auth"]).token_auth is False


def test_edge_listens_publicly_while_torchserve_stays_on_loopback(tmp_path):
    config = ForegroundConfig(inference_port=18080, backend_port=18079)
    conf = render_nginx_conf(config, tmp_path)
    assert "listen 0.0.0.0:18080 " in conf and "listen 127.0.0.1:18080" not in conf
    assert "server 127.0.0.1:18079;" in conf
    assert config.public_url() == "http://127.0.0.1:18080"


def test_edge_on_loopback_when_asked(tmp_path):
    conf = render_nginx_conf(ForegroundConfig(host="127.0.0.1", inference_port=18080), tmp_path)
    assert "listen 127.0.0.1:18080 " in conf


def test_torchserve_properties_keep_apis_on_loopback_with_long_lived_keys(tmp_path):
    config = ForegroundConfig(management_port=18081, metrics_port=18082, backend_port=18079)
    properties = dict(line.split("=", 1) for line in render_properties(config, tmp_path).splitlines())
    assert properties["inference_address"] == "http://127.0.0.1:18079"
    assert properties["management_address"] == "http://127.0.0.1:18081"
    assert properties["metrics_address"] == "http://127.0.0.1:18082"
    assert properties["grpc_inference_address"] == properties["grpc_management_address"] == "127.0.0.1"
    assert properties["disable_token_authorization"] == "false"
    assert properties["token_expiration_min"] == str(60 * 24 * 365)


def test_cpu_needs_no_device_check(store, monkeypatch):
    monkeypatch.delenv(PROVIDER_ENV, raising=False)
    assert check_execution_provider(store, ["ce_clean"]) == "cpu"


def test_cuda_without_a_cuda_onnxruntime_fails_before_start(store, monkeypatch):
    monkeypatch.setenv(PROVIDER_ENV, "cuda")
    monkeypatch.setattr("robustcifar.onnx_model.ort.get_available_providers", lambda: ["CPUExecutionProvider"])
    with pytest.raises(ProviderUnavailable, match="CUDAExecutionProvider"):
        check_execution_provider(store, ["ce_clean"])


def tiny_archive(folder, name, onnx_bytes):
    with zipfile.ZipFile(folder / f"{name}.mar", "w") as mar:
        mar.writestr("model.onnx", onnx_bytes)


def cast_model_bytes():
    pixels = helper.make_tensor_value_info(INPUT_NAME, TensorProto.UINT8, ["batch", 32, 32, 3])
    out = helper.make_tensor_value_info("out", TensorProto.FLOAT, ["batch", 32, 32, 3])
    graph = helper.make_graph([helper.make_node("Cast", [INPUT_NAME], ["out"], to=TensorProto.FLOAT)], "cast",
                              [pixels], [out])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8).SerializeToString()


def test_a_non_cpu_device_is_checked_with_a_real_session_elsewhere(tmp_path, monkeypatch):
    # Any chain other than the plain CPU one takes the session path; CPU twice runs anywhere.
    monkeypatch.setattr("serve.foreground.providers_from_environment",
                        lambda: ["CPUExecutionProvider", "CPUExecutionProvider"])
    tiny_archive(tmp_path, "good", cast_model_bytes())
    assert check_execution_provider(tmp_path, ["good"]) == "CPUExecutionProvider"
    tiny_archive(tmp_path, "broken", b"not an onnx model")
    with pytest.raises(ProviderUnavailable, match="could not open broken.mar's model with CPUExecutionProvider"):
        check_execution_provider(tmp_path, ["broken"])


def start_children(supervisor, tmp_path, commands):
    return {name: supervisor.start(name, command, tmp_path, dict(os.environ)) for name, command in commands.items()}


def test_a_child_that_exits_stops_the_others_and_fails(tmp_path):
    lines = []
    supervisor = Supervisor(grace_s=5, report=lines.append)
    pids = start_children(supervisor, tmp_path, {
        "torchserve": ["sleep", "60"],
        # The edge dies, leaving a process of its group behind, as a crashed nginx master would.
        "edge": ["sh", "-c", "sleep 60 & sleep 0.5; exit 3"],
    })
    started = time.monotonic()
    assert supervisor.run() == 1
    assert time.monotonic() - started < 10
    assert "edge exited with status 3" in lines[0]
    assert not any(process_group_alive(pgid) for pgid in pids.values())


def test_a_requested_stop_ends_every_group_and_succeeds(tmp_path):
    supervisor = Supervisor(grace_s=5, report=lambda _line: None)
    pids = start_children(supervisor, tmp_path, {"torchserve": ["sleep", "60"], "edge": ["sleep", "60"]})
    threading.Timer(0.5, supervisor.request_stop, args=("received SIGTERM",)).start()
    assert supervisor.run() == 0
    assert supervisor.stop_reason == "received SIGTERM"
    assert not any(process_group_alive(pgid) for pgid in pids.values())


def test_a_group_that_ignores_sigterm_is_killed_after_the_grace_period(tmp_path):
    lines = []
    supervisor = Supervisor(grace_s=1, report=lines.append)
    pids = start_children(supervisor, tmp_path, {
        "torchserve": ["sh", "-c", "trap '' TERM; sleep 60 & wait"],
        "edge": ["sleep", "60"],
    })
    threading.Timer(0.3, supervisor.request_stop, args=("received SIGTERM",)).start()
    started = time.monotonic()
    assert supervisor.run() == 0
    assert 1 <= time.monotonic() - started < 8
    assert any("killing" in line for line in lines)
    assert not any(process_group_alive(pgid) for pgid in pids.values())
