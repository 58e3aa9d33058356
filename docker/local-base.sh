#!/bin/bash
# Makes the base image docker/Dockerfile builds on where no image registry is reachable: a minimal
# Debian bookworm (debootstrap, from the Debian mirror apt already uses) with python3, its venv
# module and the CA certificates, imported as localhost/robustcifar-base:bookworm. On a host with
# a registry the Dockerfile's default, python:3.11-slim-bookworm, is used instead.
#
#   docker/local-base.sh [podman|docker]      (as root: debootstrap needs it)
#
# Exit status 2 when this host cannot make one (no debootstrap, no mirror).
#
# Then: --build-arg PYTHON_IMAGE=localhost/robustcifar-base:bookworm (make docker-build does this
# when it finds no registry image).
set -euo pipefail
ENGINE=${1:-podman}
IMAGE=${ROBUSTCIFAR_BASE_IMAGE:-localhost/robustcifar-base:bookworm}
SUITE=${ROBUSTCIFAR_BASE_SUITE:-bookworm}
if ! command -v debootstrap >/dev/null; then
    echo "local-base.sh: debootstrap is missing: apt-get install debootstrap" >&2
    exit 2
fi
ROOTFS=$(mktemp -d "${TMPDIR:-/tmp}/robustcifar-rootfs.XXXXXX")
trap 'rm -rf "$ROOTFS"' EXIT
echo "[local-base] debootstrap $SUITE into $ROOTFS"
if ! debootstrap --variant=minbase --include=python3,python3-venv,ca-certificates "$SUITE" "$ROOTFS" >"$ROOTFS.log" 2>&1; then
    echo "local-base.sh: debootstrap failed (is a Debian mirror reachable?): $(tail -1 "$ROOTFS.log")" >&2
    rm -f "$ROOTFS.log"
    exit 2
fi
rm -f "$ROOTFS.log"
rm -rf "$ROOTFS"/var/cache/apt/archives/*.deb "$ROOTFS"/var/lib/apt/lists/*
case "$ENGINE" in
    podman) IMPORT=(podman --runtime runc --cgroup-manager=cgroupfs import) ;;
    docker) IMPORT=(docker import) ;;
    *) echo "local-base.sh: engine must be podman or docker, not $ENGINE" >&2; exit 2 ;;
esac
tar -C "$ROOTFS" -c . | "${IMPORT[@]}" --change 'CMD ["/bin/bash"]' - "$IMAGE" >/dev/null
echo "[local-base] imported $IMAGE"
