"""The documentation cannot rot silently: every file and folder of this repository, make target and
command-line flag that README.md and the pages under docs/ (and the other READMEs) name exists."""

from __future__ import annotations

import argparse
import dataclasses
import importlib
import re
from pathlib import Path

import pytest
from cliconfigs import CONFIGS

from robustcifar.config import build_parser

ROOT = Path(__file__).resolve().parents[1]
PAGES = sorted([ROOT / "README.md", *(ROOT / "docs").glob("*.md"), ROOT / "docker" / "README.md",
                ROOT / "tests" / "README.md", *(ROOT / "examples").glob("*/README.md")])
TOP = ("robustcifar", "training", "export", "serve", "benchmark", "docker", "docs", "tests", "results", "examples",
       "scripts", ".ci")
PATH = re.compile(r"(?<![\w./-])((?:" + "|".join(re.escape(t) for t in TOP) + r")/[\w./-]*[\w/])")
LINK = re.compile(r"\]\(([^)#\s]+)(?:#[^)]*)?\)")
MAKE = re.compile(r"(?<![\w-])make ([a-z][\w-]*)")
FLAG = re.compile(r"(?<![\w-])--([a-z][a-z0-9-]+)")
# flags of other programs the pages show (pip, curl, torchrun, docker, podman, pytest, git, nginx, locust)
OTHERS = {"data-binary", "no-deps", "nproc_per_node", "nproc-per-node", "nnodes", "node_rank", "master_addr",
          "master_port", "standalone", "rdzv-endpoint", "rdzv_endpoint", "rdzv-backend", "index-url", "extra-index-url",
          "find-links", "runtime", "cgroup-manager", "ulimit", "name", "rm", "gpus", "network", "publish",
          "volume", "env", "iptables", "ip-masq", "master", "worker", "master-host", "headless", "host", "users",
          "spawn-rate", "run-time", "locustfile", "csv", "html", "only-summary", "loglevel", "stop-timeout",
          "profile", "file", "build", "detach", "wait", "timeout", "help", "version", "upgrade", "quiet", "user",
          "system-site-packages", "no-build-isolation", "editable", "dry-run", "no-print-directory", "engine",
          "no-cache", "tag", "secret", "build-arg", "target", "output", "fail", "silent", "show-error", "header",
          "request", "form", "upload-file", "location", "write-out", "max-time", "retry", "json", "expected",
          "durations", "maxfail", "lf", "collect-only", "import-mode", "frozen", "format", "no-verify",
          "foreground", "ncs", "ts-config", "model-store", "models", "disable-token-auth", "log-config", "start",
          "stop", "privileged", "pid", "shm-size", "cpus", "memory", "entrypoint", "interactive", "tty", "all",
          "force", "volumes", "remove-orphans", "project-name", "services", "scale", "no-progress", "progress",
          "expect-workers", "processes", "nproc", "max-restarts", "rdzv-id", "restart"}


def page_text(page: Path) -> str:
    return page.read_text()


def code_parts(text: str) -> str:
    """What the page shows as code: fenced blocks and inline spans."""
    fenced = re.findall(r"```[^\n]*\n(.*?)```", text, flags=re.DOTALL)
    inline = re.findall(r"`([^`\n]+)`", re.sub(r"```.*?```", "", text, flags=re.DOTALL))
    return "\n".join(fenced + inline)


def our_flags() -> set[str]:
    """Every option of every tool of ours."""
    flags = set()
    for module, name in CONFIGS:
        cls = getattr(importlib.import_module(module), name)
        presets = {"quick": {}} if any(f.name == "profile" for f in dataclasses.fields(cls)) else None
        parsers = [build_parser(cls, "", presets)]
        for parser in parsers:
            for action in parser._actions:
                flags.update(o[2:] for o in action.option_strings if o.startswith("--"))
                if isinstance(action, argparse.BooleanOptionalAction):
                    flags.update(o[5:] for o in action.option_strings if o.startswith("--no-"))
    # and the options our scripts declare with argparse themselves (the corruption CLI, the Locust
    # file's, examples/)
    for source in [*ROOT.glob("*/**/*.py")]:
        if ".venv" not in source.parts:
            flags.update(re.findall(r"add_argument\(\s*\"--([a-z][a-z0-9-]+)\"", source.read_text()))
    return flags


def make_targets() -> set[str]:
    makefile = (ROOT / "Makefile").read_text()
    return set(re.findall(r"^([a-z][\w-]*):", makefile, flags=re.MULTILINE))


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_make_target_and_flag_shown_exists(page):
    code = code_parts(page_text(page))
    targets, flags = make_targets(), our_flags() | OTHERS
    unknown_targets = sorted(set(MAKE.findall(code)) - targets)
    unknown_flags = sorted(set(FLAG.findall(code)) - flags)
    assert not unknown_targets, f"{page.relative_to(ROOT)}: no such make target: {unknown_targets}"
    assert not unknown_flags, f"{page.relative_to(ROOT)}: no tool of ours takes: {unknown_flags}"


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_named_file_and_link_exists(page):
    text = page_text(page)
    missing = []
    for name in set(PATH.findall(text)):
        if not any(c in name for c in "<>*{}") and not (ROOT / name.rstrip(".")).exists():
            missing.append(name)
    for target in set(LINK.findall(text)):
        if "://" in target or target.startswith("mailto:"):
            continue
        if not (page.parent / target).resolve().exists():
            missing.append(f"link {target}")
    assert not missing, f"{page.relative_to(ROOT)} names what does not exist: {sorted(missing)}"
