# Sourced by the scripts in docker/: which container engine and Compose implementation to use.
# shellcheck shell=bash

# docker when a Docker engine answers, else podman (if installed); an explicit choice is kept.
pick_engine() {
    local wanted=${1:-auto}
    if [ "$wanted" = auto ]; then
        if docker info >/dev/null 2>&1; then wanted=docker
        elif command -v podman >/dev/null; then wanted=podman
        else wanted=docker; fi
    fi
    case "$wanted" in
        docker|podman) echo "$wanted" ;;
        *) echo "engine must be docker, podman or auto, not $wanted" >&2; return 2 ;;
    esac
}

# The command line of an engine. podman: runc and cgroupfs (the default crun fails on hybrid
# cgroups). docker: the first docker CLI on PATH that builds with BuildKit (the Dockerfile needs
# it for its build secret and its own .dockerignore): one with the buildx plugin, or one older
# than 23 (BuildKit built in, chosen by DOCKER_BUILDKIT=1). A newer CLI without buildx can only
# use the legacy builder.
engine_command() {
    if [ "$1" = podman ]; then echo "podman --runtime runc --cgroup-manager=cgroupfs"; return; fi
    local cli major
    while read -r cli; do
        if "$cli" buildx version >/dev/null 2>&1; then echo "$cli"; return; fi
        major=$("$cli" version --format '{{.Client.Version}}' 2>/dev/null | cut -d. -f1)
        if [ -n "$major" ] && [ "$major" -lt 23 ] 2>/dev/null; then echo "env DOCKER_BUILDKIT=1 $cli"; return; fi
    done < <(type -ap docker | awk '!seen[$0]++')
    echo "no docker CLI here builds with BuildKit: install the buildx plugin (Debian: docker-buildx)" >&2
    return 2
}

# Compose: the v2 plugin (`docker compose`) when present, else Debian's docker-compose (v1).
compose_command() {
    if docker compose version >/dev/null 2>&1; then echo "docker compose"
    elif command -v docker-compose >/dev/null; then echo "docker-compose"
    else echo "no Compose here: install the compose plugin, or docker-compose (Debian)" >&2; return 2; fi
}
