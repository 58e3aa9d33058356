#!/usr/bin/env bash
# Install torch==VERSION into PYTHON's environment, the build that fits this machine, and say which:
#   - a machine with a working NVIDIA GPU (nvidia-smi answers): PyPI's default build (CUDA);
#   - any other: the CPU build from PyTorch's CPU wheel index (a few hundred MB, not the several GB of
#     CUDA libraries PyPI's default build pulls on Linux); where that index cannot be reached, pip's own
#     choice (a local wheel where pip is configured with one, else PyPI's default), with a warning.
# usage: scripts/install-torch.sh PYTHON VERSION
set -euo pipefail
python=${1:?usage: install-torch.sh PYTHON VERSION}
version=${2:?usage: install-torch.sh PYTHON VERSION}
CPU_INDEX=${TORCH_CPU_INDEX:-https://download.pytorch.org/whl/cpu}
pip=("$python" -m pip install --quiet)
if command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L >/dev/null 2>&1; then
    echo "[torch] a GPU answers (nvidia-smi): installing torch==$version from PyPI (CUDA build)"
    "${pip[@]}" "torch==$version"
elif "${pip[@]}" --timeout 20 --retries 1 --index-url "$CPU_INDEX" "torch==$version" 2>/dev/null; then
    echo "[torch] no GPU: installed the CPU build of torch==$version (from $CPU_INDEX or a local wheel)"
else
    echo "[torch] warning: $CPU_INDEX cannot be reached; pip's own choice of torch==$version follows" \
         "(on Linux x86_64 without a local wheel that is the CUDA build, several GB)" >&2
    "${pip[@]}" "torch==$version"
fi
"$python" - <<'PY'
import pathlib
import torch
folder = pathlib.Path(torch.__file__).parent
size = sum(f.stat().st_size for f in folder.rglob("*") if f.is_file()) / 2**20
build = f"CUDA {torch.version.cuda}" if torch.version.cuda else "CPU"
print(f"[torch] torch {torch.__version__}: {build} build, {size:.0f} MB in {folder.parent}")
PY
