#!/bin/bash
# For the container tests (tests/docker/): Debian's podman, runc and debootstrap, and Docker's own
# engine with Compose (docker.io, docker-compose), installed when missing and this is a root shell
# with apt. No daemon is started here: the tests start a private dockerd for their session when
# none answers (tests/container_engines.py). Never fails: without them the container tests are
# skipped, and say why.
set -u
declare -A PACKAGE=([podman]=podman [runc]=runc [debootstrap]=debootstrap [dockerd]=docker.io [docker-compose]=docker-compose)
missing=()
for tool in podman runc debootstrap dockerd docker-compose; do
    command -v "$tool" >/dev/null || missing+=("${PACKAGE[$tool]}")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "installing ${missing[*]} (the container tests)"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null 2>&1 || \
        { apt-get update -qq >/dev/null 2>&1 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null 2>&1; } || \
        echo "could not install ${missing[*]}: the container tests that need them will be skipped"
else
    echo "no ${missing[*]} (needs root and apt): the container tests that need them will be skipped"
fi
exit 0
