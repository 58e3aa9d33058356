"""What the rendered TorchServe and nginx configurations promise, checked without starting them."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from serve.archives import ArchiveError, model_config
from serve.config import LOOPBACK, METRICS_CONFIG, ServeConfig, literal_regex, render_properties
from serve.edge import find_nginx, render_nginx_conf


def read_properties(text: str) -> dict[str, str]:
    """Java .properties values as TorchServe reads them (a backslash keeps the next character)."""
    values = {}
    for line in text.splitlines():
        key, _, raw = line.partition("=")
        values[key] = re.sub(r"\\(.)", r"\1", raw)
    return values


def test_everything_but_the_edge_stays_on_loopback_even_in_a_container():
    config = ServeConfig(host="0.0.0.0", backend_port=9001, management_port=9002, metrics_port=9003,
                         grpc_inference_port=9004, grpc_management_port=9005)
    props = read_properties(render_properties(config, Path("/store")))
    assert props["inference_address"] == "http://127.0.0.1:9001"
    assert props["management_address"] == "http://127.0.0.1:9002"
    assert props["metrics_address"] == "http://127.0.0.1:9003"
    assert (props["grpc_inference_address"], props["grpc_inference_port"]) == (LOOPBACK, "9004")
    assert (props["grpc_management_address"], props["grpc_management_port"]) == (LOOPBACK, "9005")
    assert config.public_url() == "http://127.0.0.1:8080"


def test_models_only_from_the_store_and_no_model_api():
    store = Path("/srv/robust.cifar+1/model-store")
    props = read_properties(render_properties(ServeConfig(), store))
    assert props["enable_model_api"] == "false"
    allowed = re.compile(props["allowed_urls"])
    assert allowed.fullmatch(f"file://{store}/ce_clean.mar")
    for url in ("https://example.com/x.mar", "file:///etc/passwd", "file:///srv/robustXcifar+1/model-store/x.mar",
                "file:///srv/robust.cifar+1/model-store-other/x.mar"):
        assert not allowed.fullmatch(url), url


@pytest.mark.parametrize("text", ["/plain/path", "/a.b/c+d/(e)/[f]/g$h", "C:\\models\\store"])
def test_literal_regex_matches_only_itself_after_properties_unescaping(text):
    pattern = read_properties(f"k={literal_regex(text)}")["k"]
    assert re.fullmatch(pattern, text)
    assert not re.fullmatch(pattern, text + "x") and not re.fullmatch(pattern, "x" + text[1:])


def test_token_auth_and_limits_follow_the_config():
    config = ServeConfig(token_auth=True, token_expiration_min=1440, max_request_mb=2.5)
    props = read_properties(render_properties(config, Path("/s")))
    assert props["disable_token_authorization"] == "false" and props["token_expiration_min"] == "1440"
    assert props["max_request_size"] == str(int(2.5 * 1024 * 1024))
    assert props["decode_input_request"] == "false" and props["metrics_mode"] == "prometheus"
    assert Path(props["metrics_config"]) == METRICS_CONFIG and METRICS_CONFIG.is_file()
    assert read_properties(render_properties(ServeConfig(), Path("/s")))["disable_token_authorization"] == "true"


def test_batching_is_in_each_archives_model_config():
    assert model_config(ServeConfig(batch_size=8, max_batch_delay_ms=3, workers_per_model=2, max_batch_images=100)) == {
        "minWorkers": 2, "maxWorkers": 2, "batchSize": 8, "maxBatchDelay": 3, "responseTimeout": 60,
        "robustcifar": {"max_batch_images": 100}}


@pytest.mark.parametrize("options", [{"max_batch_delay_ms": 0}, {"batch_size": 0}, {"max_batch_images": 0}])
def test_batching_settings_torchserve_would_replace_are_refused(options):
    with pytest.raises(ArchiveError, match="at least 1"):
        model_config(ServeConfig(**options))


def test_metrics_config_declares_the_handlers_counters():
    import yaml

    from serve.handler import BATCHED_IMAGES_METRIC, BATCHES_METRIC

    declared = yaml.safe_load(METRICS_CONFIG.read_text())
    counters = {m["name"] for m in declared["model_metrics"]["counter"]}
    assert {BATCHES_METRIC, BATCHED_IMAGES_METRIC} <= counters
    frontend = {m["name"] for m in declared["ts_metrics"]["counter"]}
    assert {"ts_inference_requests_total", "ts_inference_latency_microseconds"} <= frontend


def test_edge_listens_on_the_host_and_proxies_to_loopback(tmp_path):
    conf = render_nginx_conf(ServeConfig(host="0.0.0.0", inference_port=9000, backend_port=9001), tmp_path)
    assert "listen 0.0.0.0:9000" in conf and "server 127.0.0.1:9001;" in conf
    assert re.search(r"location /predictions/ \{\s*if \(\$request_method !~ \^\(POST\|PUT\)\$\)", conf)


@pytest.mark.skipif(find_nginx() is None, reason="nginx is not installed")
def test_edge_configuration_is_valid_nginx(tmp_path):
    (tmp_path / "logs").mkdir()
    (tmp_path / "nginx").mkdir()
    path = tmp_path / "nginx.conf"
    path.write_text(render_nginx_conf(ServeConfig(), tmp_path))
    result = subprocess.run([find_nginx() or shutil.which("nginx"), "-t", "-c", str(path), "-p", str(tmp_path)],
                            capture_output=True, text=True, timeout=30, check=False)
    assert result.returncode == 0, result.stderr


def test_serve_cli_usage_errors_are_one_line_and_bugs_keep_their_traceback(monkeypatch, capsys, tmp_path):
    from serve.__main__ import main

    assert main(["status", "--models", "nope", "--state-dir", str(tmp_path)]) == 1
    assert capsys.readouterr().err.startswith("error: unknown model 'nope'")

    def broken(config, models):
        raise KeyError("a bug")

    monkeypatch.setattr("serve.__main__.status", broken)
    with pytest.raises(KeyError):
        main(["status", "--state-dir", str(tmp_path)])
