#!/bin/bash
# Builds the serving image (docker/Dockerfile, --target serve) with Docker or podman, choosing what
# this host can reach:
#   - the base: python:3.11-slim-bookworm when the engine can pull it, else the local Debian base
#     (docker/local-base.sh, made here when missing);
#   - torch: PyTorch's CPU index when it answers, else the folder of wheels pip is configured with
#     (`pip config get global.find-links`), mounted into the build.
#
#   docker/build-serve.sh [podman|docker] [TAG]     (default tag localhost/robustcifar-serve:cpu)
#
# Prints the build's duration; the image's size is `<engine> images`.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
ENGINE=${1:-podman}
TAG=${2:-localhost/robustcifar-serve:cpu}
BASE=${ROBUSTCIFAR_BASE_IMAGE:-localhost/robustcifar-base:bookworm}
case "$ENGINE" in
    podman) RUN=(podman --runtime runc --cgroup-manager=cgroupfs) ;;
    docker) RUN=(docker) ;;
    *) echo "build-serve.sh: engine must be podman or docker, not $ENGINE" >&2; exit 2 ;;
esac
ARGS=(--network=host --target serve -f "$ROOT/docker/Dockerfile" -t "$TAG")
if [ "$ENGINE" = podman ]; then
    # podman keeps HEALTHCHECK only in Docker's image format; the sandbox refuses raising limits
    ARGS+=(--format docker --ulimit nofile=1024:1024 --ulimit nproc=1024:1024
           --ignorefile "$ROOT/docker/Dockerfile.dockerignore")
fi
if timeout 60 "${RUN[@]}" pull -q python:3.11-slim-bookworm >/dev/null 2>&1; then
    echo "[build-serve] base: python:3.11-slim-bookworm"
else
    if ! "${RUN[@]}" image exists "$BASE" 2>/dev/null && ! "${RUN[@]}" image inspect "$BASE" >/dev/null 2>&1; then
        "$ROOT/docker/local-base.sh" "$ENGINE"
    fi
    echo "[build-serve] no registry image: base $BASE"
    ARGS+=(--build-arg "PYTHON_IMAGE=$BASE")
fi
if ! timeout 10 python3 -c "import urllib.request; urllib.request.urlopen('https://download.pytorch.org/whl/cpu/', timeout=8)" 2>/dev/null; then
    WHEELS=$(pip config get global.find-links 2>/dev/null || true)
    if [ -z "$WHEELS" ] || ! ls "$WHEELS"/torch-*.whl >/dev/null 2>&1; then
        echo "build-serve.sh: PyTorch's index is out of reach and pip knows no folder with a torch wheel" >&2
        exit 2
    fi
    echo "[build-serve] torch from $WHEELS"
    ARGS+=(-v "$WHEELS:/opt/wheels:ro" --build-arg "TORCH_PIP_ARGS=--find-links /opt/wheels")
    # Docker's builder takes no volumes: copy the folder into the context instead is not done here
    if [ "$ENGINE" = docker ]; then echo "build-serve.sh: with Docker, torch needs PyTorch's index" >&2; exit 2; fi
fi
# A TLS-intercepting proxy between this host and the package index: its CA bundle goes in too
CERT=${PIP_CERT:-$(pip config get global.cert 2>/dev/null || true)}
if [ -n "$CERT" ] && [ -f "$CERT" ]; then
    echo "[build-serve] pip's CA bundle: $CERT"
    ARGS+=(-v "$CERT:$CERT:ro" --build-arg "PIP_CERT=$CERT")
fi
START=$(date +%s)
"${RUN[@]}" build "${ARGS[@]}" "$ROOT"
echo "[build-serve] built $TAG in $(( $(date +%s) - START )) s"
