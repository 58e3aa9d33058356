"""How the load tools end: their report with the resolved config and the run's record, written as JSON
(to --out, else reports/<name>.json), and a command-line main that turns a UsageError into a message."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from robustcifar.config import config_to_dict, parse_config
from robustcifar.errors import UsageError
from robustcifar.paths import reports_dir
from robustcifar.provenance import RunStart, run_record, write_json


def write_report(report: dict, config: Any, started: RunStart, name: str, tag: str) -> dict:
    report = {**report, "config": config_to_dict(config), "run": run_record(started=started)}
    out = getattr(config, "out", None) or reports_dir() / f"{name}.json"
    write_json(Path(out), report)
    print(f"[{tag}] wrote {out}")
    return report


def tool_main(config_type: type, run: Callable[[Any], Any], argv: list[str] | None, doc: str | None) -> int:
    try:
        result = run(parse_config(config_type, argv, doc))
    except UsageError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return result if isinstance(result, int) else 0
