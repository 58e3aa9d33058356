#!/bin/bash
# Container figures for the README: cold build, start-to-ready, memory, requests/s in vs out.
set -u
cd $(git rev-parse --show-toplevel)
P="podman --runtime runc --cgroup-manager=cgroupfs"
echo "date: $(date -u)"; echo "commit: $(git rev-parse --short HEAD)"
$P rm -f -t 5 rc-measure >/dev/null 2>&1
$P rmi -f localhost/robustcifar-serve:cpu localhost/robustcifar-serve:test localhost/robustcifar-base:bookworm localhost/bookworm-base:latest >/dev/null 2>&1
$P image prune -f >/dev/null 2>&1
t0=$(date +%s); docker/build-serve.sh podman localhost/robustcifar-serve:cpu > ./cold-build.log 2>&1; rc=$?
echo "cold build (base via debootstrap + serving image): rc=$rc, $(( $(date +%s) - t0 )) s"
grep "build-serve\]" ./cold-build.log
$P images --format "{{.Repository}}:{{.Tag}} {{.Size}}" | grep robustcifar
STATE=$(mktemp -d); chown 10001:10001 $STATE
t0=$(date +%s.%N)
$P run -d --name rc-measure --ulimit nofile=1024:1024 --ulimit nproc=1024:1024 -p 127.0.0.1:18080:8080 \
   -v ../demo2/artifacts/model-store:/models:ro -v $STATE:/home/app/state localhost/robustcifar-serve:cpu \
   --models ce_clean,ce_corrupted,angular,angular_corrupted >/dev/null
until $P logs rc-measure 2>&1 | grep -q "all 4 models answer"; do sleep 0.2; done
echo "start to ready (podman run -> all 4 models answer): $(echo "$(date +%s.%N) - $t0" | bc | cut -c1-5) s"
sleep 5
$P stats --no-stream --format "container memory: {{.MemUsage}} ({{.Name}})" rc-measure
KEY=$(python3 -c "import json; print(json.load(open('$STATE/key_file.json'))['inference']['key'])")
.venv/bin/python -m benchmark.serving_throughput --url http://127.0.0.1:18080 --metrics-url "" --token "$KEY" \
   --model ce_clean --artifacts ../demo2/artifacts --levels 1 16 --out ./throughput-container.json | tail -9
$P stop -t 30 rc-measure >/dev/null; $P rm rc-measure >/dev/null
cd ../demo2 && make serve MODELS=ce_clean,ce_corrupted,angular,angular_corrupted > ./outside-serve.log 2>&1
echo "outside: resident memory of the serving processes (MB):"
ps -eo rss,args | grep -E "torchserve|ModelServer|model_service_worker|nginx" | grep -v grep | awk '{s+=$1} END {print s/1024}'
.venv/bin/python -m benchmark.serving_throughput --model ce_clean --levels 1 16 --out ./throughput-outside.json | tail -9
make stop > /dev/null 2>&1
echo "done: $(date -u)"
