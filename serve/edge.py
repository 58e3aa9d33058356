"""The edge in front of TorchServe's inference API: a small nginx on the public inference port.

Why it exists: TorchServe's frontend parses any body sent as application/x-www-form-urlencoded
(what `curl --data-binary @cat.png` sends by default) as an HTML form, and answers binary
images with a 500 before our handler sees them. TorchServe 0.12 is archived, so the fix lives
here: the edge relabels such bodies as application/octet-stream. It also enforces the body size
limit with a JSON 413, and keeps TorchServe's own inference port off every address but loopback.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from .config import ServeConfig

NGINX_CANDIDATES = ("nginx", "/usr/sbin/nginx", "/usr/local/sbin/nginx")


def find_nginx() -> str | None:
    for candidate in NGINX_CANDIDATES:
        found = shutil.which(candidate)
        if found:
            return found
    return None


def render_nginx_conf(config: ServeConfig, state_dir: Path) -> str:
    temp = state_dir / "nginx"
    logs = state_dir / "logs"
    body_limit = f"{int(config.max_request_mb * 1024 * 1024)}"
    # nginx only honours `user` when started as root; then its workers keep our identity.
    user_line = "user root;" if os.geteuid() == 0 else ""
    return f"""# Rendered by serve/edge.py; edit ServeConfig, not this file.
{user_line}
worker_processes 1;
daemon off;
pid {state_dir}/nginx.pid;
error_log {logs}/edge_error.log warn;
events {{ worker_connections 1024; }}
http {{
    access_log off;
    client_body_temp_path {temp}/body;
    proxy_temp_path {temp}/proxy;
    fastcgi_temp_path {temp}/fastcgi;
    uwsgi_temp_path {temp}/uwsgi;
    scgi_temp_path {temp}/scgi;
    client_max_body_size {body_limit};
    client_body_buffer_size {body_limit};
    client_body_timeout 30s;
    client_header_timeout 10s;
    large_client_header_buffers 4 16k;
    server_tokens off;
    map $http_content_type $backend_content_type {{
        "~*^application/x-www-form-urlencoded" application/octet-stream;
        default $http_content_type;
    }}
    upstream torchserve {{
        server {config.host}:{config.backend_port};
        keepalive 64;
    }}
    server {{
        listen {config.host}:{config.inference_port} reuseport backlog=1024;
        error_page 413 = @too_large;
        location @too_large {{
            default_type application/json;
            return 413 '{{"error": "request_too_large", "detail": "the body exceeds {config.max_request_mb:g} MiB"}}';
        }}
        location / {{
            proxy_pass http://torchserve;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header Content-Type $backend_content_type;
            proxy_read_timeout {config.response_timeout_s + 5}s;
        }}
    }}
}}
"""
