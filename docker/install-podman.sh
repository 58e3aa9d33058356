#!/bin/bash
# For the container tests (tests/docker/test_container.py): Debian's podman, runc and debootstrap,
# installed when missing and this is a root shell with apt. Never fails: without them the
# container tests are skipped, and say so.
set -u
missing=()
for tool in podman runc debootstrap; do command -v "$tool" >/dev/null || missing+=("$tool"); done
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "installing ${missing[*]} (the container tests)"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null 2>&1 || \
        { apt-get update -qq >/dev/null 2>&1 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null 2>&1; } || \
        echo "could not install ${missing[*]}: the container tests will be skipped"
else
    echo "no ${missing[*]} (needs root and apt): the container tests will be skipped"
fi
exit 0
