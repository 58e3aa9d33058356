#!/bin/bash
# The README's Containers figures with Docker's engine (as root, a Docker daemon running): a cold
# `make docker-build`, compose up with four models, memory, throughput through the container, the
# compose benchmark service, and the same server outside a container. STUDY: exported models.
set -euo pipefail
cd "$(dirname "$0")/../.."   # the checkout
STUDY=$(cd "${STUDY:-../study/artifacts}" && pwd)   # the study run's four models (a sibling clone)
export ROBUSTCIFAR_MODEL_STORE="$STUDY/model-store" ROBUSTCIFAR_ARTIFACTS="$STUDY"
SCRATCH=$(mktemp -d)   # throughput JSONs, memory samples, the benchmark log
echo "== date $(date -u +%FT%TZ) commit $(git rev-parse --short HEAD) dirty=$(git status --porcelain | wc -l)"
docker/compose.sh down -v || true
docker ps -aq --filter name=robustcifar | xargs -r docker rm -f
docker images --format '{{.Repository}}:{{.Tag}}' | grep -E "robustcifar|<none>" | xargs -r docker rmi -f || true
# a cold build: this clears the host's whole Docker build cache
docker image prune -f >/dev/null; docker builder prune -af >/dev/null
echo "== cold build"
command time -f "make docker-build: %e s wall" make docker-build CONTAINER_ENGINE=docker 2>&1 | grep -E "build-images|wall|local-base"
docker images --format '{{.Repository}}:{{.Tag}} {{.Size}}' | grep robustcifar
echo "== archives"
.venv/bin/python -m serve archive --artifacts "$STUDY" 2>&1 | tail -4
echo "== up"
docker/compose.sh up 2>&1 | tail -1
id=$(docker ps -q --filter name=robustcifar_serve_1)
started=$(docker inspect --format '{{.State.StartedAt}}' $id)
ready=$(docker logs -t $id 2>&1 | grep "models answer" | head -1 | cut -d' ' -f1)
python3 -c "
from datetime import datetime
f=lambda t: datetime.fromisoformat(t[:26].rstrip('Z'))
print('start to ready (all models answer): %.1f s' % (f('$ready')-f('$started')).total_seconds())"
sleep 5
docker stats --no-stream --format '{{.Name}} {{.MemUsage}}' $id
KEY=$(docker exec $id python -c "import json; print(json.load(open('/home/app/state/key_file.json'))['inference']['key'])")
echo "== throughput through the container"
.venv/bin/python -m benchmark.serving_throughput --url http://127.0.0.1:8080 --model ce_clean --levels 1 16 --token "$KEY" --artifacts "$STUDY" --out "$SCRATCH/thr-container.json" 2>&1 | grep -vE "^\s*$" | tail -8
echo "== compose benchmark (quick), sampling memory"
( while true; do docker stats --no-stream --format '{{.Name}} {{.MemUsage}}' 2>/dev/null; sleep 5; done ) > "$SCRATCH/mem-samples.txt" &
SAMPLER=$!
command time -f "compose benchmark: %e s wall" env PROFILE=quick docker/compose.sh benchmark > "$SCRATCH/compose-bench2.log" 2>&1 || echo "benchmark failed"
kill $SAMPLER
tail -1 "$SCRATCH/compose-bench2.log"; grep -E "results in|warning" "$SCRATCH/compose-bench2.log" | head -5
grep benchmark "$SCRATCH/mem-samples.txt" | sort -k2 -h | tail -1
grep serve "$SCRATCH/mem-samples.txt" | sort -k2 -h | tail -1
docker/compose.sh down
echo "== the same server outside a container"
.venv/bin/python -m serve start --artifacts "$STUDY" 2>&1 | tail -1
sleep 3
ps -eo rss,args | awk '/java|model_service_worker|nginx/ && !/awk/ {s+=$1} END {printf "resident outside (java+workers+nginx): %.2f GB\n", s/1e6}'
.venv/bin/python -m benchmark.serving_throughput --url http://127.0.0.1:8080 --model ce_clean --levels 1 16 --artifacts "$STUDY" --out "$SCRATCH/thr-outside.json" 2>&1 | grep -vE "^\s*$" | tail -8
.venv/bin/python -m serve stop --artifacts "$STUDY" 2>&1 | tail -1
