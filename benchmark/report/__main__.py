"""`python -m benchmark.report [--run reports/<timestamp>]`: index.html and summary.md for a benchmark run.

Without --run, the newest run under reports/. The report goes into the run's folder, with its
plots (plots/) and copies of the training curves and UMAP plots (training/<model>/).
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path

from robustcifar.config import parse_config
from robustcifar.paths import reports_dir

from .content import build_content
from .html import render_html
from .markdown import render_markdown
from .plots import draw_all
from .run_data import RunFolderError, latest_run, load_run
from .training_outputs import collect_training_outputs


@dataclass
class ReportConfig:
    run: Path | None = field(default=None, metadata={"help": "run folder (default: the newest under reports/)"})
    artifacts: Path | None = field(default=None, metadata={"help": "artifacts folder with the training outputs"})


def write_report(folder: Path, artifacts: Path | None = None) -> Path:
    run = load_run(folder)
    models = list(dict.fromkeys([*run.summary.get("model_files", {}), *run.model_summaries]))
    training = {m: collect_training_outputs(m, folder, artifacts,
                                            run.summary.get("model_files", {}).get(m, {}).get("onnx_sha256"))
                for m in models}
    pictures = dict(draw_all({"accuracy": run.accuracy_rows, "calibration": run.calibration_rows,
                              "reliability": run.reliability_rows, "latency": run.latency_rows}, folder))
    content = build_content(run, training, pictures)
    (folder / "summary.md").write_text(render_markdown(content))
    index = folder / "index.html"
    index.write_text(render_html(content))
    return index


def main(argv: list[str] | None = None) -> int:
    config = parse_config(ReportConfig, argv, __doc__)
    try:
        folder = config.run or latest_run(reports_dir())
        index = write_report(folder, config.artifacts)
    except RunFolderError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"[report] {index}  (and summary.md next to it)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
