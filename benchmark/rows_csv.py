"""Lists of dataclass rows as CSV files with a header: the long-form results of a benchmark run."""

from __future__ import annotations

import csv
from dataclasses import asdict, fields
from pathlib import Path


def write_rows_csv(rows: list, row_type: type, path: Path) -> None:
    """One column per field of `row_type`, in its order (the header is written for no rows too)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=[field.name for field in fields(row_type)])
        writer.writeheader()
        writer.writerows(asdict(row) for row in rows)
