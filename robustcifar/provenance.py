"""What every run records next to its outputs: git commit, hardware, software versions, timing."""

from __future__ import annotations

import json
import os
import platform
import re
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .paths import project_root


def git_commit() -> str:
    """HEAD's hash, with '-dirty' when tracked files have uncommitted changes; 'unknown' outside git."""
    def run(*args: str) -> str:
        return subprocess.run(
            ["git", *args], cwd=project_root(), capture_output=True, text=True, timeout=10, check=True
        ).stdout.strip()

    try:
        commit = run("rev-parse", "HEAD")
        dirty = run("status", "--porcelain", "--untracked-files=no")
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return commit + ("-dirty" if dirty else "")


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


# oneDNN's instruction-set caps (ONEDNN_MAX_CPU_ISA, formerly DNNL_MAX_CPU_ISA) below AVX512_CORE_BF16: with
# one of them set, oneDNN runs no bf16 instruction even where the CPU has them, so bf16 would be emulated
ISA_CAPS_WITHOUT_BF16 = {"SSE41", "AVX", "AVX2", "AVX2_VNNI", "AVX2_VNNI_2", "AVX512_CORE", "AVX512_CORE_VNNI"}


def onednn_isa_cap() -> str | None:
    """The instruction set oneDNN is capped at by the environment, upper case, or None."""
    for name in ("ONEDNN_MAX_CPU_ISA", "DNNL_MAX_CPU_ISA"):
        if os.environ.get(name):
            return os.environ[name].strip().upper()
    return None


def cpu_has_native_bf16() -> bool:
    """Whether this CPU computes bf16 natively (AVX-512 BF16 or AMX), so bf16 autocast pays; without
    them oneDNN emulates bf16, slower than float32. A oneDNN cap below AVX512_CORE_BF16 (how this
    project times a CPU without native bf16 on one that has it) counts as without."""
    if onednn_isa_cap() in ISA_CAPS_WITHOUT_BF16:
        return False
    try:
        import torch
    except ImportError:
        return False
    cpu = getattr(torch, "cpu", None)
    checks = ("_is_avx512_bf16_supported", "_is_amx_tile_supported")
    return any(getattr(cpu, name, lambda: False)() for name in checks)


INT8_FLAGS = {"avx512_vnni": "AVX-512 VNNI", "avx_vnni": "AVX-VNNI", "amx_int8": "AMX-INT8"}


def cpu_int8_features() -> list[str]:
    """The int8 dot-product instructions this CPU has (what onnxruntime's int8 kernels use), from /proc/cpuinfo."""
    try:
        flags = next((line.split(":", 1)[1].split() for line in Path("/proc/cpuinfo").read_text().splitlines()
                      if line.startswith("flags")), [])
    except OSError:
        return []
    return [name for flag, name in INT8_FLAGS.items() if flag in flags]


def hardware_summary() -> dict[str, Any]:
    info: dict[str, Any] = {
        "cpu": cpu_model(),
        "cpu_cores": os.cpu_count(),
        "cpu_int8": cpu_int8_features(),
        "python": sys.version.split()[0],
        "platform": platform.platform(),
    }
    caps = {name: os.environ[name] for name in ("ONEDNN_MAX_CPU_ISA", "DNNL_MAX_CPU_ISA", "ATEN_CPU_CAPABILITY")
            if os.environ.get(name)}
    if caps:  # kernels held below what the CPU has: the figures are not this CPU's best
        info["isa_caps"] = caps
    try:
        import torch

        info["torch"] = torch.__version__
        info["torch_threads"] = torch.get_num_threads()
        info["cpu_native_bf16"] = cpu_has_native_bf16()
        if torch.cuda.is_available():
            info["gpu"] = torch.cuda.get_device_name(0)
            info["gpu_count"] = torch.cuda.device_count()
    except ImportError:
        pass
    return info


def portable(payload: Any, root: Path | None = None) -> Any:
    """`payload` with every path inside the checkout written relative to it (and the checkout's
    sibling folders, such as ../shared, as ../<name>), so records can be committed and compared
    across machines. Strings are rewritten wherever the checkout's absolute path occurs in them
    (a command line included); other absolute paths are left as they are."""
    root = (root or project_root()).resolve()
    # Only where a path starts (not inside a URL such as http://serve/...); a checkout at the top
    # level (/app in the images) has no siblings to name.
    prefixes = [(f"{root}/", "")] + ([(f"{root.parent}/", "../")] if root.parent != root.parent.parent else [])
    patterns = [(re.compile(rf"(?<![\w.:/-]){re.escape(prefix)}"), replacement) for prefix, replacement in prefixes]

    def rewrite(text: str) -> str:
        if text == str(root):
            return "."
        for pattern, replacement in patterns:
            text = pattern.sub(replacement, text)
        return text

    if isinstance(payload, str):
        return rewrite(payload)
    if isinstance(payload, dict):
        return {key: portable(value, root) for key, value in payload.items()}
    if isinstance(payload, (list, tuple)):
        return [portable(value, root) for value in payload]
    return payload


def write_json(path: Path, payload: Any) -> None:
    """Write atomically, so a crash never leaves half a metrics file behind; paths in the checkout
    are written relative to it (see `portable`)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(portable(payload), indent=2, sort_keys=False) + "\n")
    tmp.replace(path)


@dataclass(frozen=True)
class RunStart:
    """When a run started and the commit its code was loaded from: a long run can outlive HEAD, so its
    record names the code that ran, not the commit checked out when it ended."""

    time: float
    commit: str


def run_started() -> RunStart:
    return RunStart(time.time(), git_commit())


def run_record(command: list[str] | None = None, started: RunStart | None = None) -> dict[str, Any]:
    record: dict[str, Any] = {
        "git_commit": started.commit if started is not None else git_commit(),
        "command": " ".join(command if command is not None else sys.argv),
        "hardware": hardware_summary(),
        "finished_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    if started is not None:
        record["wall_seconds"] = round(time.time() - started.time, 2)
    return record
