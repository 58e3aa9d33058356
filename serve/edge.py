"""The edge in front of TorchServe's inference API: a small nginx on the public inference port.

Why it exists: TorchServe's frontend parses any body sent as application/x-www-form-urlencoded
(what `curl --data-binary @cat.png` sends by default) as an HTML form, and answers binary
images with a 500 before our handler sees them. TorchServe 0.12 is archived, so the fix lives
here: the edge relabels such bodies as application/octet-stream. It also
  - exposes only GET /ping, POST or PUT /predictions/<model>[/<version>], and the Open Inference
    Protocol v2's REST paths (GET /v2, /v2/health/live, /v2/health/ready, /v2/models/<model>[/versions/<v>]
    and its /ready, POST .../infer), each of a model's routed to /predictions/<model> with the
    operation named in a header for the handler (robustcifar/serving/v2_model.py): TorchServe would
    hand a DELETE or GET of a prediction URL to the handler as an empty request, and serves more
    (/api-description, /invocations, KServe v1 paths) than this service documents;
  - answers what it refuses itself (404, 405, 413, malformed requests, TorchServe down) with the
    same JSON `{"error", "detail"}` body as the handler's 400s;
  - keeps TorchServe's own inference port on loopback;
  - admission control: at most `admission_limit` prediction requests per model are in flight or
    waiting; the rest get 503 `overloaded` with Retry-After at once. A refusal costs nginx tens of
    microseconds and TorchServe nothing, and the edge's worker runs at a lower priority (nice) than
    TorchServe, so a flood of refusals cannot take the CPU the model needs.
Answers that come from TorchServe (its 404 for an unknown model, its 503s) pass unchanged.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

from robustcifar.serving.v2_model import OP_HEADER, VERSION_HEADER

from .config import LOOPBACK, ServeConfig

SERVER_NAME = "robustcifar"
V2_MODEL = r"^/v2/models/(?<v2model>[^/]+)(?:/versions/(?<v2version>[^/]+))?"

NGINX_CANDIDATES = ("nginx", "/usr/sbin/nginx", "/usr/local/sbin/nginx")


def find_nginx() -> str | None:
    for candidate in NGINX_CANDIDATES:
        found = shutil.which(candidate)
        if found:
            return found
    return None


def _json_error(status: int, error: str, detail: str) -> str:
    """An nginx `return` of our JSON error body (details are fixed text: no request data in them)."""
    body = json.dumps({"error": error, "detail": detail}).replace("'", "\\'")
    return f"return {status} '{body}';"


def v2_get_location(suffix: str, operation: str, errors: str) -> str:
    """A v2 model path answered to GET by the model's worker: its `operation` as a body-less POST."""
    return f"""        location ~ "{V2_MODEL}{suffix}$" {{
            if ($request_method !~ ^(GET|HEAD)$) {{
                return 405;
            }}
            {errors}
            proxy_method POST;
            proxy_pass_request_body off;
            proxy_set_header Content-Length "";
            proxy_set_header Connection "";
            proxy_set_header {OP_HEADER} {operation};
            proxy_set_header {VERSION_HEADER} $v2version;
            proxy_pass http://torchserve/predictions/$v2model;
        }}
"""


HEALTH = ("live", "ready")


def health_file(state_dir: Path, which: str) -> Path:
    return state_dir / "nginx" / f"v2-health-{which}.json"


def write_health_files(state_dir: Path) -> None:
    """The bodies the edge answers /v2/health/live and /v2/health/ready with (when TorchServe answers)."""
    for which in HEALTH:
        path = health_file(state_dir, which)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps({which: True}))


def v2_server_metadata() -> str:
    return json.dumps({"name": SERVER_NAME, "version": "1", "extensions": ["binary_tensor_data"]})


def render_nginx_conf(config: ServeConfig, state_dir: Path) -> str:
    temp = state_dir / "nginx"
    logs = state_dir / "logs"
    body_limit = f"{int(config.max_request_mb * 1024 * 1024)}"
    # nginx only honours `user` when started as root; then its workers keep our identity.
    user_line = "user root;" if os.geteuid() == 0 else ""
    too_large = _json_error(413, "request_too_large", f"the body exceeds {config.max_request_mb:g} MiB")
    not_found = _json_error(404, "not_found", "this service answers GET /ping, POST or PUT /predictions/<model>, "
                                              "and the Open Inference Protocol's /v2 paths")
    not_allowed = _json_error(405, "method_not_allowed", "predictions take POST or PUT with the image as the body")
    bad_request = _json_error(400, "bad_request", "the HTTP request is malformed")
    unavailable = _json_error(503, "backend_unavailable", "the model server is not answering; try again shortly")
    limit = config.resolved_admission_limit()
    overloaded = _json_error(503, "overloaded", f"this model already has {limit} requests in flight; retry after "
                                                f"{config.retry_after_s} s")
    # limit_conn counts the requests being processed per key; an empty key (no model) is not counted.
    admission_zone = "limit_conn_zone $admission_model zone=per_model:1m;" if limit > 0 else ""
    admission = f"limit_conn per_model {limit};" if limit > 0 else ""
    v2_not_found = _json_error(404, "not_found", "no model of that name (and version) is served here")
    v2_not_allowed = _json_error(405, "method_not_allowed", "v2 metadata and readiness take GET, infer takes POST")
    v2_worker_failed = _json_error(507, "worker_failed", "the model's worker stopped while answering; retry")
    # In a v2 model location: TorchServe's own errors (unknown model, full queue, a dead worker) are
    # answered in the protocol's {"error": ...} form; the handler's 400s (with their detail) pass.
    # (A location's error_page replaces the server's, so all of them are repeated.)
    v2_errors = ("proxy_intercept_errors on; error_page 404 = @v2_not_found; error_page 405 = @v2_method_not_allowed; "
                 "error_page 413 = @too_large; error_page 502 504 = @unavailable; error_page 503 = @overloaded; "
                 "error_page 507 = @v2_worker_failed;")
    server_metadata, model_path = v2_server_metadata(), V2_MODEL
    op_header, version_header = OP_HEADER, VERSION_HEADER
    v2_get_locations = "".join(v2_get_location(suffix, operation, v2_errors)
                               for suffix, operation in (("/ready", "ready"), ("", "metadata")))
    health_locations = "".join(f"""        location = /v2/health/{which} {{
            if ($request_method !~ ^(GET|HEAD)$) {{
                return 405;
            }}
            auth_request /_torchserve_ping;
            error_page 405 = @v2_method_not_allowed;
            error_page 500 502 503 504 = @unavailable;
            default_type application/json;
            alias {health_file(state_dir, which)};
        }}
""" for which in HEALTH)
    return f"""# Rendered by serve/edge.py; edit ServeConfig, not this file.
{user_line}
worker_processes 1;
worker_priority {config.edge_priority};
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
    default_type application/json;
    map $http_content_type $backend_content_type {{
        "~*^application/x-www-form-urlencoded" application/octet-stream;
        default $http_content_type;
    }}
    map $uri $admission_model {{
        "~^/predictions/(?<model>[^/]+)" $model;
        "~^/v2/models/(?<infermodel>[^/]+)(/versions/[^/]+)?/infer$" $infermodel;
        default "";
    }}
    {admission_zone}
    limit_conn_status 503;
    limit_conn_log_level info;
    upstream torchserve {{
        server {LOOPBACK}:{config.backend_port};
        keepalive 64;
    }}
    server {{
        listen {config.host}:{config.inference_port} reuseport backlog=1024;
        # nginx's own refusals only: TorchServe's answers are not intercepted.
        error_page 400 494 = @bad_request;
        error_page 404 = @not_found;
        error_page 405 = @method_not_allowed;
        error_page 413 = @too_large;
        error_page 502 504 = @unavailable;
        # nginx's own 503 is only ever the admission refusal (TorchServe's 503s are not intercepted)
        error_page 503 = @overloaded;
        # Keep-alive to TorchServe (a location that sets any proxy_set_header must repeat this).
        proxy_http_version 1.1;
        proxy_set_header Connection "";
        proxy_read_timeout {config.response_timeout_s + 5}s;
        location = /ping {{
            proxy_pass http://torchserve;
        }}
        location /predictions/ {{
            if ($request_method !~ ^(POST|PUT)$) {{
                return 405;
            }}
            {admission}
            proxy_set_header Connection "";
            proxy_set_header Content-Type $backend_content_type;
            proxy_set_header {op_header} "";
            proxy_pass http://torchserve;
        }}
        # The Open Inference Protocol v2 (REST). A model's paths go to its worker as POST
        # /predictions/<model>, with the operation and the path's version in headers.
        location = /v2 {{
            if ($request_method !~ ^(GET|HEAD)$) {{
                return 405;
            }}
            return 200 '{server_metadata}';
        }}
        # Health: TorchServe's /ping asked as a subrequest (auth_request), and on its 200 the
        # protocol's body ({{"live": true}} / {{"ready": true}}, what KServe's client reads) from a
        # file the edge writes at start (a `return` would answer before the subrequest runs).
        location = /_torchserve_ping {{
            internal;
            proxy_method GET;
            proxy_pass_request_body off;
            proxy_set_header Content-Length "";
            proxy_set_header Connection "";
            proxy_pass http://torchserve/ping;
        }}
{health_locations}        location ~ "{model_path}/infer$" {{
            if ($request_method != POST) {{
                return 405;
            }}
            {admission}
            proxy_set_header Connection "";
            proxy_set_header Content-Type $backend_content_type;
            {v2_errors}
            proxy_set_header {op_header} infer;
            proxy_set_header {version_header} $v2version;
            proxy_pass http://torchserve/predictions/$v2model;
        }}
{v2_get_locations}        location / {{
            return 404;
        }}
        location @v2_not_found {{ {v2_not_found} }}
        location @v2_method_not_allowed {{ {v2_not_allowed} }}
        location @v2_worker_failed {{ {v2_worker_failed} }}
        location @bad_request {{ {bad_request} }}
        location @not_found {{ {not_found} }}
        location @method_not_allowed {{
            add_header Allow "POST, PUT" always;
            {not_allowed}
        }}
        location @too_large {{ {too_large} }}
        location @unavailable {{ {unavailable} }}
        location @overloaded {{
            add_header Retry-After {config.retry_after_s} always;
            {overloaded}
        }}
    }}
}}
"""
