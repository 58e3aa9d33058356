# robustcifar: train, export, serve and benchmark CIFAR-10 classifiers under corruption.
# `make all` does everything on this machine; `make test` runs the test suite. `make help` lists targets.

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
ROOT := $(abspath $(dir $(lastword $(MAKEFILE_LIST))))
VENV := $(ROOT)/.venv
PY := $(VENV)/bin/python
PYTHON ?= python3
TORCH_VERSION ?= 2.13.0
PROFILE ?= auto
MODEL ?=
URL ?= http://127.0.0.1:8080
# A CIFAR-10 of your own for training, export and the benchmark: the official archive or folder, or an
# image folder or its tarball (default: an official archive in $(ROBUSTCIFAR_DATA) or data/, else the
# JPEG copy in ../shared/data, else a download). ROBUSTCIFAR_DATA moves the download and cache folder.
DATA ?=
DATA_ARG = $(if $(DATA),--data $(DATA))
# Options for `python -m serve` (archive, start, stop, status), e.g. SERVE_ARGS="--token-auth".
SERVE_ARGS ?=
# Which models archives, serve and benchmark take (default: our four), e.g. MODELS=ce_clean,my_model.
MODELS ?=
# Training seeds (SEEDS=0,1,2): train-all trains, and export, serve and benchmark take, each model's run
# per seed, named <model>-seed<N> (seed 0 keeps the plain name).
SEEDS ?=
MODELS_ARG = $(if $(MODELS),--models $(MODELS)) $(if $(SEEDS),--seeds $(SEEDS))
# More options for `python -m training` and `python -m export`, e.g. TRAIN_ARGS="--budgets 5,10,20".
TRAIN_ARGS ?=
EXPORT_ARGS ?=
# More options for `python -m export quantize`, e.g. QUANTIZE_ARGS="--calibration-images 512".
QUANTIZE_ARGS ?=
# make import ONNX=file.onnx NAME=my_model IMPORT_ARGS="--layout NCHW --mean ... --std ..."
ONNX ?=
NAME ?=
IMPORT_ARGS ?=
# More options for `python -m benchmark`, e.g. BENCHMARK_ARGS="--no-latency".
BENCHMARK_ARGS ?=
# PROTOCOL=v2 sends the accuracy pass as Open Inference Protocol requests of BATCH images each;
# RESUME=reports/<run> continues a stopped benchmark run (only the cells it has not recorded are sent).
PROTOCOL ?=
BATCH ?=
RESUME ?=
# TorchServe's key_file.json, when the server requires its API keys (the container's default).
KEY_FILE ?=
# cpu or cuda: which serving image docker-up runs with Docker (cuda: onnxruntime-gpu, docker/compose.gpu.yaml).
SERVE_DEVICE ?= cpu
export SERVE_DEVICE
STAMP := $(VENV)/.requirements-installed
# Other projects' servers and clients (MLServer, tritonclient) in an environment of their own.
PEERS_VENV := $(ROOT)/.venv-peers
PEERS_STAMP := $(PEERS_VENV)/.requirements-installed
# KServe's client needs a newer FastAPI than MLServer allows: an environment of its own.
KSERVE_VENV := $(ROOT)/.venv-kserve
KSERVE_STAMP := $(KSERVE_VENV)/.requirements-installed

export PYTHONUNBUFFERED := 1

.PHONY: help all requirements system-requirements train-all train export quantize import archives serve stop status \
        benchmark report cifar10c test test-requirements peers lint clean distclean docker-build docker-up \
        docker-benchmark docker-down

help:
	@echo "make all                 requirements, train-all, export, serve, benchmark (PROFILE=auto|quick|study|full)"
	@echo "make requirements        project virtualenv in .venv (torch $(TORCH_VERSION) first, CPU build without a GPU), nginx, Java check"
	@echo "make train-all           train ce_clean, ce_corrupted, angular, angular_corrupted (SEEDS=0,1,2; TRAIN_ARGS=...)"
	@echo "make train MODEL=<name>  train one model (a stopped run resumes; finished ones are skipped)"
	@echo "make export              ONNX + meta.json (+ gallery.npz) for every trained model (MODELS=, SEEDS=)"
	@echo "make quantize            an int8 copy, <model>_int8, of every exported model (MODELS=, SEEDS=)"
	@echo "make import ONNX=f NAME=n bring a CIFAR-10 classifier of your own (IMPORT_ARGS=\"--layout NCHW --mean ...\")"
	@echo "make archives            the TorchServe archives of the models"
	@echo "make serve / make stop   start TorchServe in the background and wait for every model / stop it"
	@echo "make status              whether the server runs: its process groups and URL"
	@echo "                         (MODELS=ce_clean,n serves, and benchmarks, those; SEEDS=0,1,2 each seed's runs)"
	@echo "                         (SERVE_ARGS=\"--token-auth ...\" passes options to python -m serve)"
	@echo "make benchmark           accuracy under corruption and latency of the live endpoints, then the report"
	@echo "                         (PROTOCOL=v2 BATCH=64: the accuracy pass in v2 batches; RESUME=reports/<run>)"
	@echo "make report [RUN=dir]    reports/<run>/index.html + summary.md for the newest (or the given) benchmark run"
	@echo "make cifar10c            write a CIFAR-10-C style folder for the test set into data/cifar10c"
	@echo "make peers               .venv-peers: MLServer and Triton's client, for the v2 tests and the peer comparison"
	@echo "make test / make lint    install what the tests need and run the whole suite / ruff"
	@echo "make clean / distclean   remove generated artifacts / also .venv, .venv-peers and data caches"
	@echo "make docker-build        the serving and work images, CPU (BAKED=1: also the one with the models built in)"
	@echo "make docker-up / -down   start the serving container and wait until healthy / stop and remove the containers"
	@echo "make docker-benchmark    the compose benchmark service against it (Docker); the run lands in reports/"
	@echo "Variables: PROFILE MODEL MODELS SEEDS DATA URL KEY_FILE PROTOCOL BATCH RESUME RUN ONNX NAME"
	@echo "           TRAIN_ARGS EXPORT_ARGS IMPORT_ARGS SERVE_ARGS BENCHMARK_ARGS (README.md, Configuration)"

all: requirements train-all export serve benchmark
	@echo
	@echo "Done. TorchServe is still running at $(URL)/predictions/<model>, for example:"
	@echo "    curl -T some.png $(URL)/predictions/angular"
	@echo "Stop it with: make stop"

requirements: $(STAMP) system-requirements

# torch is pinned and installed first and alone, the CPU build unless a GPU answers (scripts/install-torch.sh
# says which it installed): an unpinned one pulls several GB of CUDA wheels.
$(STAMP): requirements.txt requirements-nodeps.txt pyproject.toml scripts/install-torch.sh
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	@bash $(ROOT)/scripts/install-torch.sh $(PY) $(TORCH_VERSION)
	$(PY) -m pip install --quiet -r requirements.txt
	$(PY) -m pip install --quiet --no-deps -r requirements-nodeps.txt
	$(PY) -m pip install --quiet --no-deps -e .
	@touch $@

# nginx is the inference edge (see serve/edge.py); TorchServe needs Java 17+.
system-requirements:
	@command -v java >/dev/null || { echo "error: TorchServe needs Java 17+: install openjdk-17-jre-headless" >&2; exit 1; }
	@command -v nginx >/dev/null || test -x /usr/sbin/nginx || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "installing nginx-light (the inference edge)"; \
	    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nginx-light >/dev/null || \
	    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nginx-light >/dev/null; }; \
	  else echo "error: the inference edge needs nginx: sudo apt-get install nginx-light" >&2; exit 1; fi; }

train-all: requirements
	$(PY) -m training --models all --profile $(PROFILE) $(if $(SEEDS),--seeds $(SEEDS)) $(DATA_ARG) $(TRAIN_ARGS)

# Usage errors come before any install (checked when make reads this file).
ifneq ($(filter train,$(MAKECMDGOALS)),)
ifeq ($(MODEL),)
$(error usage: make train MODEL=<ce_clean|ce_corrupted|angular|angular_corrupted|ce_augmix|angular_augmix|ce_augmix_jsd> [SEEDS=0,1,2] [TRAIN_ARGS=...])
endif
endif
ifneq ($(filter import,$(MAKECMDGOALS)),)
ifeq ($(and $(ONNX),$(NAME)),)
$(error usage: make import ONNX=file.onnx NAME=my_model IMPORT_ARGS="--layout NCHW ...")
endif
endif

train: requirements
	$(PY) -m training --models $(MODEL) --profile $(PROFILE) $(if $(SEEDS),--seeds $(SEEDS)) $(DATA_ARG) $(TRAIN_ARGS)

export: requirements
	$(PY) -m export $(MODELS_ARG) $(DATA_ARG) $(EXPORT_ARGS)

quantize: requirements
	$(PY) -m export quantize $(MODELS_ARG) $(DATA_ARG) $(QUANTIZE_ARGS)

import: requirements
	$(PY) -m export import --onnx $(ONNX) --name $(NAME) $(DATA_ARG) $(IMPORT_ARGS)

archives: requirements
	$(PY) -m serve archive $(MODELS_ARG) $(SERVE_ARGS)

serve: archives
	$(PY) -m serve start $(MODELS_ARG) $(SERVE_ARGS)

stop:
	@if [ -x $(PY) ]; then $(PY) -m serve stop $(SERVE_ARGS); else echo "nothing to stop"; fi

status: requirements
	$(PY) -m serve status $(SERVE_ARGS)

benchmark: requirements
	$(PY) -m benchmark --url $(URL) --profile $(PROFILE) $(MODELS_ARG) $(DATA_ARG) $(if $(KEY_FILE),--key-file $(KEY_FILE)) \
		$(if $(PROTOCOL),--protocol $(PROTOCOL)) $(if $(BATCH),--batch $(BATCH)) $(if $(RESUME),--resume $(RESUME)) \
		$(BENCHMARK_ARGS)
	$(PY) -m benchmark.report $(if $(RESUME),--run $(RESUME))

report: requirements
	$(PY) -m benchmark.report $(if $(RUN),--run $(RUN))

cifar10c: requirements
	$(PY) -m robustcifar.corruptions.cifar10c_folder $(DATA_ARG)

# The peers' environments: MLServer and Triton's client (.venv-peers), KServe's client (.venv-kserve), which
# the v2 tests and examples/mlserver use.
peers: $(PEERS_STAMP) $(KSERVE_STAMP)

$(KSERVE_STAMP): requirements-kserve.txt
	@test -x $(KSERVE_VENV)/bin/python || $(PYTHON) -m venv $(KSERVE_VENV)
	$(KSERVE_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(KSERVE_VENV)/bin/python -m pip install --quiet -r requirements-kserve.txt
	@touch $@

$(PEERS_STAMP): requirements-peers.txt
	@test -x $(PEERS_VENV)/bin/python || $(PYTHON) -m venv $(PEERS_VENV)
	$(PEERS_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(PEERS_VENV)/bin/python -m pip install --quiet -r requirements-peers.txt
	@touch $@

# The report's browser test needs Chromium (Debian's package; installed when missing).
test-requirements: peers
	@bash $(ROOT)/benchmark/report/install-chromium.sh >/dev/null
	@bash $(ROOT)/docker/install-engines.sh

test: requirements test-requirements
	$(PY) -m pytest

lint: requirements
	$(PY) -m ruff check .

clean: stop
	rm -rf $(ROOT)/artifacts $(ROOT)/reports $(ROOT)/logs $(ROOT)/.pytest_cache
	find $(ROOT) -name __pycache__ -type d -prune -exec rm -rf {} +

# Containers (docker/README.md). CONTAINER_ENGINE=auto picks docker when a Docker engine answers,
# else podman (as root, with runc and cgroupfs); docker/engine.sh decides, when a target runs.
# docker/build-images.sh builds on the base and torch source this host can reach; with Docker,
# docker/compose.sh runs docker/compose.yaml (serve, and the benchmark through its network);
# with podman, docker-up runs the serving image alone.
CONTAINER_ENGINE ?= auto
ENGINE = source $(ROOT)/docker/engine.sh; e=$$(pick_engine $(CONTAINER_ENGINE))
PODMAN := podman --runtime runc --cgroup-manager=cgroupfs
SERVE_CONTAINER ?= robustcifar-serve
SERVE_PORT ?= 8080

docker-build:
	$(ROOT)/docker/build-images.sh --engine $(CONTAINER_ENGINE) serve work $(if $(BAKED),serve-baked)

docker-up:
	@$(ENGINE); if [ "$$e" = docker ]; then exec $(ROOT)/docker/compose.sh up; fi; \
	$(PODMAN) run -d --name $(SERVE_CONTAINER) --ulimit nofile=1024:1024 --ulimit nproc=1024:1024 \
		-p 127.0.0.1:$(SERVE_PORT):8080 -v $(ROOT)/artifacts/model-store:/models:ro robustcifar-serve:cpu $(MODELS_ARG); \
	for i in $$(seq 1 120); do \
	  $(PODMAN) exec $(SERVE_CONTAINER) python -m serve.healthcheck --state-dir /home/app/state && exit 0; \
	  sleep 2; done; $(PODMAN) logs $(SERVE_CONTAINER) | tail -20; exit 1

docker-benchmark:
	@$(ENGINE); if [ "$$e" != docker ]; then echo "docker-benchmark runs the compose file: it needs Docker's engine" >&2; exit 2; fi; \
	PROFILE=$(PROFILE) MODELS=$(MODELS) BENCHMARK_ARGS="$(BENCHMARK_ARGS)" $(ROOT)/docker/compose.sh benchmark

docker-down:
	@$(ENGINE); if [ "$$e" = podman ]; then $(PODMAN) rm -f -t 30 $(SERVE_CONTAINER); \
	else $(ROOT)/docker/compose.sh down; fi

distclean: clean
	rm -rf $(VENV) $(PEERS_VENV) $(KSERVE_VENV) $(ROOT)/data
