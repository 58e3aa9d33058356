"""What the report says, in order: sections of text, tables and pictures, independent of the format."""

from __future__ import annotations

from dataclasses import dataclass, field

from ..accuracy.summary import BASELINE_MODEL
from . import tables
from .run_data import RunData
from .tables import Table
from .training_outputs import TrainingOutputs


@dataclass
class Picture:
    path: str  # relative to the report folder
    caption: str

    @property
    def wide(self) -> bool:
        """Many-panel plots get the page's full width."""
        return self.path.endswith(WIDE_PLOTS)


WIDE_PLOTS = ("accuracy_by_family.png", "accuracy_by_corruption.png", "reliability.png", "ece_by_family.png")


@dataclass
class Section:
    key: str
    title: str
    text: list[str] = field(default_factory=list)
    tables: list[Table] = field(default_factory=list)
    pictures: list[Picture] = field(default_factory=list)
    label: str = ""  # short name in the navigation bar


@dataclass
class ReportContent:
    title: str
    subtitle: str
    sections: list[Section]


REPRODUCE = ("Reproduce: `make benchmark PROFILE=quick` (or study, or full) measures and then writes this report; "
             "`make report RUN=reports/<run>` renders a run folder again.")


def headline(run: RunData) -> list[str]:
    models = run.model_summaries
    lines = []
    if models:
        best_corrupted = max(models, key=lambda m: (models[m]["benchmark_mean"] or {"value": -1})["value"])
        fig = models[best_corrupted]["benchmark_mean"]
        lines.append(f"Most accurate on the 15 benchmark corruptions: {best_corrupted} "
                     f"({tables.pct(fig)} %).")
    return lines


def latency_headline(run: RunData) -> str:
    fastest = max(run.latency_rows, key=lambda r: r.requests_per_s)
    return (f"Highest throughput: {fastest.model} at {fastest.users} users, {fastest.requests_per_s:.0f} "
            f"requests/s (p50 {fastest.p50_ms:.0f} ms, p99 {fastest.p99_ms:.0f} ms).")


def accuracy_sections(run: RunData, training: dict[str, TrainingOutputs], pictures: dict[str, str]) -> list[Section]:
    models = run.model_summaries
    if not models:
        return [Section("accuracy", "Accuracy under corruption", ["Not measured in this run (--no-accuracy)."])]
    n = run.accuracy.get("n_per_cell", 0)
    n_clean = run.accuracy.get("n_clean", n)
    baseline = run.accuracy.get("baseline_model", BASELINE_MODEL)
    summary_tables = [tables.summary_table(models, n, baseline, n_clean),
                      tables.difference_table(models, n, n_clean, baseline)]
    detail_tables = [tables.per_corruption_table(models, n), tables.difference_per_corruption_table(models, n, baseline),
                     tables.corruption_error_table(models, n, baseline), tables.per_severity_table(models, n, n_clean)]
    return [
        Section("accuracy", "Accuracy under corruption", headline(run), [t for t in summary_tables if t is not None],
                [Picture(p, c) for p, c in pictures.items() if p.endswith(("family.png", "heatmap.png"))], "Summary"),
        Section("studies", "The original studies' tables, with this run's numbers", [],
                [tables.study_corrupted_table(models, n), tables.study_train_test_table(models, training, n, n_clean)],
                label="Original studies"),
        Section("details", "Per corruption and per severity", [], [t for t in detail_tables if t is not None],
                [Picture(p, c) for p, c in pictures.items() if p.endswith("by_corruption.png")], "Details"),
    ]


def calibration_section(run: RunData, pictures: dict[str, str]) -> Section:
    table = tables.calibration_table(run.model_summaries)
    if table is None:
        return Section("calibration", "Calibration under corruption",
                       [("Not measured in this run (no accuracy figures, or a run made before calibration was "
                        "recorded).")], label="Calibration")
    text = [("How far each model's confidence can be trusted, clean and as corruption grows: an ECE of 0 means "
            "that of the answers given with 80% confidence, 80% are right.")]
    return Section("calibration", "Calibration under corruption", text, [table],
                   [Picture(p, c) for p, c in pictures.items() if p.endswith(("reliability.png", "ece_by_family.png"))],
                   "Calibration")


def latency_section(run: RunData, pictures: dict[str, str]) -> Section:
    if not run.latency_rows:
        return Section("latency", "Latency and throughput", ["Not measured in this run (--no-latency)."])
    reports = [p.relative_to(run.folder).as_posix() for p in run.locust_reports()]
    users = ", ".join(map(str, run.latency.get("users", [])))
    text = [latency_headline(run),
            f"Locust, headless, closed workload: {users} users x {run.latency.get('stage_seconds', '?')} s per model "
            f"and level. Locust's own HTML reports: " + ", ".join(f"[{r.split('/')[-1]}]({r})" for r in reports)]
    section_tables = [tables.latency_table(run.latency_rows)]
    if run.latency.get("onnxruntime"):
        section_tables.append(tables.onnx_baseline_table(run.latency["onnxruntime"]))
    return Section("latency", "Latency and throughput", text, section_tables,
                   [Picture(p, c) for p, c in pictures.items() if p.endswith(("latency_percentiles.png",
                                                                              "throughput.png"))], "Latency")


def training_section(training: dict[str, TrainingOutputs]) -> Section:
    pictures = [Picture(path, f"{t.model}: {name.removesuffix('.png')}") for t in training.values()
                for name, path in t.pictures.items()]
    text = [] if pictures else ["No training outputs found in the artifacts folder."]
    return Section("training", "Training curves and UMAP of the features", text, [], pictures, "Training")


def build_content(run: RunData, training: dict[str, TrainingOutputs], pictures: dict[str, str]) -> ReportContent:
    provenance = [tables.run_table(run.summary), tables.model_files_table(run.summary.get("model_files", {}), training)]
    failures = tables.failures_table(run.model_summaries, run.latency.get("failure_kinds", {}))
    if failures is not None:
        provenance.insert(0, failures)
    record = run.summary.get("run", {})
    subtitle = (f"run {run.folder.name}, profile {run.summary.get('profile', '?')}, commit "
                f"{str(record.get('git_commit', '?'))[:12]}, {record.get('hardware', {}).get('cpu', '')} "
                f"({record.get('hardware', {}).get('cpu_cores', '?')} cores)")
    return ReportContent(
        "CIFAR-10 robustness and serving benchmark", subtitle,
        [*accuracy_sections(run, training, pictures), calibration_section(run, pictures), latency_section(run, pictures),
         training_section(training),
         Section("run", "Run, hardware and model files", [REPRODUCE], provenance, label="Run")],
    )
