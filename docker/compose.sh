#!/bin/bash
# docker/compose.yaml with Docker's engine and whichever Compose this host has (`docker compose`,
# or Debian's docker-compose 1.29, which has no `up --wait`):
#
#   docker/compose.sh up          start `serve`; wait until Docker's health check says healthy
#   docker/compose.sh benchmark   run the `benchmark` service (make benchmark in the work image,
#                                 through the compose network), then copy its runs into reports/
#   docker/compose.sh key         print the running server's inference key (for curl -H "Authorization: Bearer ...")
#   docker/compose.sh down [-v]   stop and remove the containers (-v: the volumes too)
#   docker/compose.sh config      the merged configuration
#
# The images come from docker/build-images.sh (make docker-build). Environment: SERVE_DEVICE=cuda
# adds compose.gpu.yaml; PROFILE, MODELS and BENCHMARK_ARGS go to the benchmark;
# ROBUSTCIFAR_PROJECT names the compose project (default robustcifar); ROBUSTCIFAR_READY_S bounds
# the wait for health (default 600); ROBUSTCIFAR_COMPOSE_OVERRIDES adds compose files
# (colon-separated); ROBUSTCIFAR_REPORTS is where the benchmark's runs are copied (default reports/).
# compose.shared-data.yaml is added where the team's offline copy of CIFAR-10 lies next to the checkout.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=docker/engine.sh
source "$ROOT/docker/engine.sh"
ACTION=${1:-}
shift || true
case "$ACTION" in
    up|benchmark|key|down|config) ;;
    *) echo "usage: docker/compose.sh up|benchmark|key|down [-v]|config" >&2; exit 2 ;;
esac
# What serve mounts at /models (docker/compose.yaml's default, relative to docker/).
STORE=${ROBUSTCIFAR_MODEL_STORE:-$ROOT/artifacts/model-store}
if [ "$ACTION" = up ] && ! compgen -G "$STORE/*.mar" >/dev/null; then
    echo "compose.sh: no model archives (*.mar) in $STORE: run \`make archives\` first, or set ROBUSTCIFAR_MODEL_STORE" >&2
    exit 2
fi
COMPOSE_CLI=$(compose_command)
read -r -a COMPOSE <<<"$COMPOSE_CLI"
PROJECT=${ROBUSTCIFAR_PROJECT:-robustcifar}
FILES=(-f "$ROOT/docker/compose.yaml")
[ "${SERVE_DEVICE:-cpu}" = cuda ] && FILES+=(-f "$ROOT/docker/compose.gpu.yaml")
[ -f "$ROOT/../shared/data/cifar10-jpeg.tar.gz" ] && FILES+=(-f "$ROOT/docker/compose.shared-data.yaml")
IFS=: read -r -a EXTRA <<<"${ROBUSTCIFAR_COMPOSE_OVERRIDES:-}"
for file in "${EXTRA[@]}"; do FILES+=(-f "$file"); done
RUN=("${COMPOSE[@]}" -p "$PROJECT" "${FILES[@]}")

serve_container() { "${RUN[@]}" ps -q serve; }

wait_healthy() {
    local id status waited=0 limit=${ROBUSTCIFAR_READY_S:-600}
    id=$(serve_container)
    [ -n "$id" ] || { echo "compose.sh: the serve container did not start" >&2; return 1; }
    while true; do
        status=$(docker inspect --format '{{if .State.Health}}{{.State.Health.Status}}{{end}} {{.State.Running}}' "$id")
        case "$status" in
            "healthy true") echo "[compose] serve is healthy (${waited} s after the container started)"; return 0 ;;
            *" false"|"unhealthy "*)
                echo "compose.sh: serve is ${status% *} and running=${status#* }; its last log lines:" >&2
                docker logs --tail 30 "$id" >&2; return 1 ;;
        esac
        if [ "$waited" -ge "$limit" ]; then
            echo "compose.sh: serve not healthy after $limit s; its last log lines:" >&2
            docker logs --tail 30 "$id" >&2; return 1
        fi
        sleep 1; waited=$((waited + 1))
    done
}

case "$ACTION" in
    up)
        "${RUN[@]}" up --detach serve
        wait_healthy ;;
    benchmark)
        # The benchmark waits for serve's health itself (depends_on: service_healthy).
        name="$PROJECT-benchmark-$(date +%Y%m%d-%H%M%S)"
        status=0
        "${RUN[@]}" --profile benchmark run --name "$name" benchmark || status=$?
        reports=${ROBUSTCIFAR_REPORTS:-$ROOT/reports}
        mkdir -p "$reports"
        docker cp "$name:/app/reports/." "$reports/" && echo "[compose] the runs are in $reports"
        docker rm "$name" >/dev/null
        exit "$status" ;;
    key)
        id=$(serve_container)
        [ -n "$id" ] || { echo "compose.sh: serve is not running (docker/compose.sh up)" >&2; exit 1; }
        # the key file is read by its one reader, robustcifar/serving/auth.py
        docker exec "$id" python -m robustcifar.serving.auth /home/app/state/key_file.json inference ;;
    down)
        "${RUN[@]}" --profile benchmark --profile train down "$@" ;;
    config)
        "${RUN[@]}" --profile benchmark --profile train config "$@" ;;
esac
