#!/bin/bash
# Builds the project's images from docker/Dockerfile with Docker or podman, on whatever base and
# torch source this host can reach:
#   - the base: python:3.11-slim-bookworm when the engine can pull it, else the local Debian base
#     (docker/local-base.sh, made here when missing);
#   - torch (CPU build): PyTorch's CPU index when it answers, else the folder of wheels pip is
#     configured with (`pip config get global.find-links`), served to the build over loopback HTTP
#     for as long as the build runs (a build cannot mount a host folder with Docker's builder);
#   - a TLS-intercepting proxy's CA bundle (pip's `global.cert`), given to pip as a build secret,
#     so it is not stored in any layer.
#
#   docker/build-images.sh [--engine docker|podman] [TARGET ...]
#
# TARGET: serve (default), work, serve-baked (needs artifacts/<model>/ from `make export`).
# ROBUSTCIFAR_CONTEXT: another build context than the checkout (the tests bake small models);
# ROBUSTCIFAR_BAKE_MODELS: which models serve-baked bakes (default all: our four).
# Tags: robustcifar-serve:$ROBUSTCIFAR_TAG, robustcifar-work:$ROBUSTCIFAR_TAG and
# robustcifar-serve:$ROBUSTCIFAR_TAG-baked (ROBUSTCIFAR_TAG defaults to cpu; docker/compose.yaml
# uses the same names). The engine defaults to docker when a Docker engine answers, else podman.
# Prints each build's duration and the image's size. Exit status 2 when this host lacks a base or
# a torch source it can reach.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=docker/engine.sh
source "$ROOT/docker/engine.sh"
ENGINE=auto
if [ "${1:-}" = --engine ]; then ENGINE=$2; shift 2; fi
TARGETS=("$@")
[ ${#TARGETS[@]} -eq 0 ] && TARGETS=(serve)
TAG=${ROBUSTCIFAR_TAG:-cpu}
BASE=${ROBUSTCIFAR_BASE_IMAGE:-localhost/robustcifar-base:bookworm}
ENGINE=$(pick_engine "$ENGINE")
COMMAND=$(engine_command "$ENGINE")
read -r -a RUN <<<"$COMMAND"

image_tag() {
    case "$1" in
        serve) echo "robustcifar-serve:$TAG" ;;
        work) echo "robustcifar-work:$TAG" ;;
        serve-baked) echo "robustcifar-serve:$TAG-baked" ;;
        *) echo "build-images.sh: unknown target $1 (serve, work or serve-baked)" >&2; exit 2 ;;
    esac
}
for target in "${TARGETS[@]}"; do image_tag "$target" >/dev/null; done

CONTEXT=${ROBUSTCIFAR_CONTEXT:-$ROOT}
ARGS=(--network=host -f "$ROOT/docker/Dockerfile" --build-arg "MODELS=${ROBUSTCIFAR_BAKE_MODELS:-all}")
if [ "$ENGINE" = podman ]; then
    # podman keeps HEALTHCHECK only in Docker's image format; the sandbox refuses raising limits
    ARGS+=(--format docker --ulimit nofile=1024:1024 --ulimit nproc=1024:1024
           --ignorefile "$ROOT/docker/Dockerfile.dockerignore")
fi

if timeout 60 "${RUN[@]}" pull -q python:3.11-slim-bookworm >/dev/null 2>&1; then
    echo "[build-images] base: python:3.11-slim-bookworm"
else
    if ! "${RUN[@]}" image inspect "$BASE" >/dev/null 2>&1; then
        "$ROOT/docker/local-base.sh" "$ENGINE"
    fi
    echo "[build-images] no registry image: base $BASE"
    ARGS+=(--build-arg "PYTHON_IMAGE=$BASE")
fi

TORCH_ARGS="--index-url https://download.pytorch.org/whl/cpu"
if ! timeout 10 python3 -c "import urllib.request; urllib.request.urlopen('https://download.pytorch.org/whl/cpu/', timeout=8)" 2>/dev/null; then
    WHEELS=$(pip config get global.find-links 2>/dev/null || true)
    if [ -z "$WHEELS" ] || ! ls "$WHEELS"/torch-*.whl >/dev/null 2>&1; then
        echo "build-images.sh: PyTorch's index is out of reach and pip knows no folder with a torch wheel" >&2
        exit 2
    fi
    # A fixed port keeps the build arguments, and so the layer cache, the same from one build to
    # the next; another one only when it is taken.
    PORT=$(python3 -c "
import socket
s = socket.socket()
try:
    s.bind(('127.0.0.1', ${ROBUSTCIFAR_WHEEL_PORT:-47811}))
except OSError:
    s.bind(('127.0.0.1', 0))
print(s.getsockname()[1])")
    python3 -m http.server --bind 127.0.0.1 --directory "$WHEELS" "$PORT" >/dev/null 2>&1 &
    SERVER=$!
    trap 'kill $SERVER 2>/dev/null || true' EXIT
    for _ in $(seq 50); do python3 -c "import socket; socket.create_connection(('127.0.0.1', $PORT), 1)" 2>/dev/null && break; sleep 0.1; done
    echo "[build-images] torch from $WHEELS (served on 127.0.0.1:$PORT during the build)"
    TORCH_ARGS="--find-links http://127.0.0.1:$PORT/"
fi
ARGS+=(--build-arg "TORCH_PIP_ARGS=$TORCH_ARGS")

CERT=${PIP_CERT:-$(pip config get global.cert 2>/dev/null || true)}
if [ -n "$CERT" ] && [ -f "$CERT" ]; then
    echo "[build-images] pip's CA bundle, as a build secret: $CERT"
    ARGS+=(--secret "id=pip-ca,src=$CERT")
fi

for target in "${TARGETS[@]}"; do
    tag=$(image_tag "$target")
    start=$(date +%s)
    "${RUN[@]}" build "${ARGS[@]}" --target "$target" -t "$tag" "$CONTEXT"
    size=$("${RUN[@]}" image inspect --format '{{.Size}}' "$tag")
    echo "[build-images] built $tag in $(( $(date +%s) - start )) s, $(( size / 1000000 )) MB"
done
