"""`python -m benchmark.study collect|report`: the study across seeds and budgets, from committed outcomes.

    collect --bench reports/<run> [--artifacts artifacts] [--results results/study-cpu]
        every model of a benchmark run, with its training run's held-out outcomes and records, into
        results/<study>/runs/<run>.npz and .json (commit them as each part lands); a run already there
        keeps its cells and gains the benchmark's others (a later run adding CIFAR-10-C-bar)
    report [--results results/study-cpu] [--readme README.md] [--check]
        the study section from every run committed there: results/<study>/study.md and the budget plot;
        with --readme, the README's block between the study markers is replaced (or, with --check,
        compared: exit 1 when it differs from what the outcomes give)
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from robustcifar.artifacts import ModelArtifacts, ModelMeta
from robustcifar.config import parse_config
from robustcifar.errors import UsageError
from robustcifar.model_specs import RunName
from robustcifar.paths import project_root
from robustcifar.provenance import cpu_has_native_bf16, portable

from ..accuracy.outcomes import Outcomes
from .analysis import Study, StudyDataError
from .plot import plot_budget, plot_generalization
from .records import RunOutcomes, from_benchmark, load_runs
from .tables import section

BEGIN, END = "<!-- study:begin (python -m benchmark.study report --readme README.md) -->", "<!-- study:end -->"


def default_results() -> Path:
    return project_root() / "results" / "study-cpu"


@dataclass
class CollectConfig:
    bench: Path | None = field(default=None, metadata={"help": "the benchmark run folder (reports/<run>)"})
    artifacts: Path | None = field(default=None, metadata={"help": "where the runs' training outputs are"})
    results: Path | None = field(default=None, metadata={"help": "the study's folder (default results/study-cpu)"})
    plots: bool = field(default=True, metadata={"help": "copy seed 0's curves and UMAP plots at the study budget"})


@dataclass
class ReportConfig:
    results: Path | None = field(default=None, metadata={"help": "the study's folder (default results/study-cpu)"})
    readme: Path | None = field(default=None, metadata={"help": "replace this file's study block"})
    check: bool = field(default=False, metadata={"help": "only compare the README's block with the outcomes"})


def training_meta(artifacts: ModelArtifacts) -> dict:
    metrics = json.loads((artifacts.train_dir / "metrics.json").read_text())
    history = metrics["history"]
    hardware = metrics["run"]["hardware"]
    return {
        "model": metrics["run_of"]["model"], "seed": metrics["run_of"]["seed"], "epochs": len(history),
        "images_per_second": float(np.mean([h["images_per_second"] for h in history])),
        "wall_seconds": metrics["run"]["wall_seconds"], "train_seconds": metrics["final"]["train_seconds"],
        "resumed_after_epochs": metrics.get("resumed_after_epochs", []), "cpu": hardware["cpu"],
        "cpu_native_bf16": hardware.get("cpu_native_bf16", cpu_has_native_bf16()),
        "torch": hardware.get("torch"), "git_commit": metrics["run"]["git_commit"],
        "command": metrics["run"]["command"], "finished_at": metrics["run"]["finished_at"],
        "data_source_kind": metrics["final"]["data_source_kind"], "final": metrics["final"], "history": history,
        "config": json.loads((artifacts.train_dir / "config.json").read_text()),
    }


def collect(config: CollectConfig) -> list[Path]:
    if config.bench is None or not (config.bench / "outcomes.npz").is_file():
        raise UsageError("--bench must be a finished benchmark run folder (with outcomes.npz)")
    summary = json.loads((config.bench / "summary.json").read_text())
    outcomes = Outcomes.load(config.bench / "outcomes.npz")
    results = config.results or default_results()
    written = []
    for name in outcomes.models:
        run = RunName.parse(name)
        if run is None:
            print(f"[study] {name} is not a run of one of our models: skipped", flush=True)
            continue
        # an int8 copy was trained as its float32 run: its training record is that run's
        artifacts = ModelArtifacts.for_model(str(run.float_run), config.artifacts)
        if not (artifacts.train_dir / "outcomes.npz").is_file():
            raise UsageError(f"{artifacts.train_dir} has no outcomes.npz: train {run.float_run} with this code first")
        accuracy = summary["accuracy"]
        meta = {"run": name, "training": training_meta(artifacts), "benchmark": {
            "run": config.bench.name, "protocol": accuracy.get("protocol", "predictions"),
            "batch": accuracy.get("batch", 1), "n_per_cell": accuracy["n_per_cell"], "n_clean": accuracy["n_clean"],
            "accuracy_seconds": summary["seconds"]["accuracy"], "models_in_run": len(outcomes.models),
            "git_commit": summary["run"]["git_commit"], "cpu": summary["run"]["hardware"]["cpu"],
            "finished_at": summary["run"]["finished_at"], "data_source_kind": summary["data_source_kind"],
            "corrupted_images": accuracy["cifar10c"], "served_sha256": summary["model_files"][name].get(
                "served_sha256")}}
        train_outcomes = {}
        if not run.int8:  # the training run's validation answers are the float32 model's, not the copy's
            with np.load(artifacts.train_dir / "outcomes.npz") as f:
                train_outcomes = {k: f[k] for k in f}
        else:
            meta["quantized"] = ModelMeta.load(ModelArtifacts.for_model(name, config.artifacts).meta).quantized
            check_quantized_from_committed(name, meta["quantized"], results / "runs" / f"{run.float_run}.json")
        record = from_benchmark(name, outcomes, train_outcomes, portable(meta))
        added = None
        if (results / "runs" / f"{name}.npz").is_file():  # a later benchmark of the run: its new cells join
            record, added = record.merged_with(RunOutcomes.load(results / "runs" / f"{name}.npz"))
        written.append(record.save(results / "runs"))
        if config.plots and run.seed == 0 and run.epochs is None and not run.int8:
            for plot in ("curves.png", "umap.png"):
                if (artifacts.train_dir / plot).is_file():
                    (results / "training" / name).mkdir(parents=True, exist_ok=True)
                    shutil.copy(artifacts.train_dir / plot, results / "training" / name / plot)
        if added is not None:
            print(f"[study] {name}: already committed; {len(added)} new cell(s) joined it"
                  f"{' (' + ', '.join(added[:3]) + ', ...)' if len(added) > 3 else ''}", flush=True)
        print(f"[study] {name}: {len(record.bench['cell'])} benchmark answers and "
              f"{sum(len(v) for k, v in record.held_out.items() if k.endswith('_label'))} validation answers into "
              f"{portable(str(written[-1]))}", flush=True)
    return written


def check_quantized_from_committed(name: str, quantized: dict | None, float_record: Path) -> None:
    """An int8 copy is compared with its float32 run's committed record: refuse one quantized from another
    file (a retrained model of the same name), whose paired differences would be another model's."""
    if not float_record.is_file():
        return
    served = json.loads(float_record.read_text()).get("benchmark", {}).get("served_sha256") or []
    source = (quantized or {}).get("from_sha256")
    if served and source not in served:
        raise UsageError(f"{name} was quantized from a file ({str(source)[:12]}) other than the one the committed "
                         f"{float_record.stem} record measured ({served[0][:12]}): benchmark its float32 original "
                         "too, so that both records are of the same model")


def replace_block(text: str, block: str) -> str:
    if BEGIN not in text or END not in text:
        raise UsageError(f"the README has no study block (lines {BEGIN!r} ... {END!r})")
    head, rest = text.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    return f"{head}{BEGIN}\n{block}{END}{tail}"


def report(config: ReportConfig) -> int:
    results = config.results or default_results()
    study = Study.of(load_runs(results / "runs"))
    readme_plots = Path(os.path.relpath(results / "plots", (config.readme or Path("README.md")).resolve().parent))
    text = section(study, compact=True, plots=readme_plots.as_posix())
    if config.check:
        if config.readme is None:
            raise UsageError("--check compares the README's block: pass --readme README.md")
        current = config.readme.read_text()
        if replace_block(current, text) != current:
            print(f"{config.readme}'s study block differs from what {portable(str(results))} gives: run "
                  "`python -m benchmark.study report --readme README.md`", file=sys.stderr)
            return 1
        print(f"[study] {config.readme}'s study block matches the committed outcomes")
        return 0
    (results / "study.md").write_text("# The study, from the committed per-run outcomes\n\n"
                                      "Written by `python -m benchmark.study report` from runs/; the method is in "
                                      "docs/study.md.\n\n" + section(study, plots="plots"))
    plot_budget(study, results / "plots" / "budget.png")
    plot_generalization(study, results / "plots" / "generalization.png")
    if config.readme is not None:
        config.readme.write_text(replace_block(config.readme.read_text(), text))
    print(section(study))
    return 0


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] not in ("collect", "report"):
        print(__doc__, file=sys.stderr)
        return 2
    try:
        if argv[0] == "collect":
            collect(parse_config(CollectConfig, argv[1:], __doc__))
            return 0
        return report(parse_config(ReportConfig, argv[1:], __doc__))
    except (UsageError, StudyDataError, FileNotFoundError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
