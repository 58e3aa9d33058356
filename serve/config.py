"""TorchServe's config.properties, rendered from the one ServeConfig (robustcifar/serving/config.py)."""

from __future__ import annotations

from pathlib import Path

from robustcifar.serving.config import LOOPBACK, ServeConfig

__all__ = ["LOOPBACK", "METRICS_CONFIG", "ServeConfig", "literal_regex", "render_properties"]
METRICS_CONFIG = Path(__file__).with_name("metrics.yaml")


def literal_regex(text: str) -> str:
    """`text` as a Java regex that matches only itself, spelled for a .properties file (whose reader
    halves backslashes): metacharacters go in brackets, brackets and backslashes are escaped."""
    out = []
    for char in text:
        if char in ".+*?^$(){}|":
            out.append(f"[{char}]")
        elif char in "[]":
            out.append("\\\\" + char)
        elif char == "\\":
            out.append("\\" * 4)
        else:
            out.append(char)
    return "".join(out)


def render_properties(config: ServeConfig, model_store: Path) -> str:
    """config.properties: loopback-only addresses, no remote model registration, no model API."""
    max_bytes = int(config.max_request_mb * 1024 * 1024)
    lines = {
        "inference_address": config.internal_url(config.backend_port),
        "management_address": config.internal_url(config.management_port),
        "metrics_address": config.internal_url(config.metrics_port),
        "grpc_inference_address": LOOPBACK,
        "grpc_management_address": LOOPBACK,
        "grpc_inference_port": str(config.grpc_inference_port),
        "grpc_management_port": str(config.grpc_management_port),
        "model_store": str(model_store),
        "load_models": "all",
        "default_workers_per_model": str(config.workers_per_model),
        # Models come only from our own store: no registration from URLs, no model-control API.
        "allowed_urls": f"file://{literal_regex(str(model_store))}/.*",
        "enable_model_api": "false",
        "disable_token_authorization": "false" if config.token_auth else "true",
        "install_py_dep_per_model": "false",
        # Hand request bodies to the handler as bytes, whatever their Content-Type.
        "decode_input_request": "false",
        "max_request_size": str(max_bytes),
        "max_response_size": str(max_bytes),
        "metrics_mode": "prometheus",
        "metrics_config": str(METRICS_CONFIG),
        "default_response_timeout": str(config.response_timeout_s),
        # Settings come from this file only, never from TS_* variables of whoever starts it.
        "enable_envvars_config": "false",
        # Log lines are written by a background thread, not by the thread answering the request.
        "async_logging": "true",
    }
    if config.token_auth:
        lines["token_expiration_min"] = f"{config.token_expiration_min:g}"
    if config.jvm_options.strip():
        lines["vmargs"] = config.jvm_options.strip()
    return "".join(f"{key}={value}\n" for key, value in lines.items())
