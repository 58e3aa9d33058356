"""The report's tables, as plain rows of text that the HTML and Markdown writers both render.

Accuracies and CEs are in percent with their 95% interval in brackets; each table says how many
test images stand behind each figure.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from robustcifar.corruptions import BENCHMARK_CORRUPTIONS, CBAR_CORRUPTIONS

from ..accuracy.families import CBAR as CBAR_COLUMN
from ..accuracy.families import family_of
from ..load.latency import LatencyRow
from .training_outputs import TrainingOutputs


@dataclass
class Table:
    key: str  # anchor id in the HTML
    title: str
    columns: list[str]
    rows: list[list[str]]
    note: str = ""

    def numeric_columns(self) -> list[bool]:
        """Columns whose cells are all figures (or n/a) are right-aligned; the first never is."""
        return [i > 0 and all(NUMERIC.match(row[i]) for row in self.rows if i < len(row))
                for i in range(len(self.columns))]


NUMERIC = re.compile(r"^(n/a|-?\d)")


# The original studies called the models Model1..3; our names for them.
STUDY_MODELS = (
    ("Model1", "ce_clean", "clean", "cross-entropy, softmax"),
    ("Model2", "ce_corrupted", "corrupted", "cross-entropy, softmax"),
    ("Model3", "angular", "clean", "angular loss, kNN vote"),
)
# (classifier family, model trained on clean images, model trained on corrupted images)
STUDY_PAIRS = (("Cross-entropy", "ce_clean", "ce_corrupted"), ("Angular loss + kNN", "angular", "angular_corrupted"))


def pct(fig: dict | None, digits: int = 1) -> str:
    """A figure {"value", "ci95"} as '41.0 [31.9-50.8]' (percent), or 'n/a'."""
    if not fig:
        return "n/a"
    low, high = fig["ci95"]
    if low is None or high is None:  # a ratio whose interval has no bound: its value means nothing at this n
        return "not estimable at this n"
    if not (math.isfinite(low) and math.isfinite(high)):
        return f"{100 * fig['value']:.{digits}f}"
    return f"{100 * fig['value']:.{digits}f} [{100 * low:.{digits}f}–{100 * high:.{digits}f}]"


def nats(fig: dict | None) -> str:
    """A log-likelihood figure as '0.912 [0.880–0.950]' (nats), or 'n/a'."""
    if not fig:
        return "n/a"
    low, high = fig["ci95"]
    if low is None or high is None or not (math.isfinite(low) and math.isfinite(high)):
        return f"{fig['value']:.3f}"
    return f"{fig['value']:.3f} [{low:.3f}–{high:.3f}]"


def calibration_table(models: dict[str, dict]) -> Table | None:
    """ECE and NLL per model: clean, the mean over the benchmark corruptions, and at each severity."""
    calibrated = {m: s["calibration"] for m, s in models.items() if s.get("calibration")}
    if not calibrated:
        return None
    severities = sorted({int(k) for c in calibrated.values() for k in c.get("per_severity", {})})
    rows = []
    for model, c in calibrated.items():
        bench = c.get("benchmark_mean") or {}
        per = c.get("per_severity", {})
        rows.append([model, pct(c["clean"]["ece"]), nats(c["clean"]["nll"]), pct(bench.get("ece")),
                     nats(bench.get("nll")), *[pct((per.get(str(s)) or {}).get("ece")) for s in severities]])
    n_clean = next(iter(calibrated.values()))["clean"]["ece"]
    return Table("calibration", "Calibration: expected calibration error (%) and negative log-likelihood (nats)",
                 ["model", "clean ECE %", "clean NLL", "15 benchmark ECE %", "15 benchmark NLL",
                  *[f"ECE % sev. {s}" for s in severities]], rows,
                 "From the probabilities the endpoints answered (classifiers: softmax; embedders: the share of the "
                 "k neighbours' votes, add-one smoothed for the NLL); 15 equal-width confidence bins; over answered "
                 "requests only; ECE bias-corrected by the bootstrap, with a normal interval around it clipped at 0 "
                 "(an interval reaching 0: not resolved at this n); NLL with a percentile interval; [95% interval over "
                 "test images]"
                 + (f"; clean on {n_clean['n']} images" if n_clean else "") + ". Per cell in calibration.csv.")


def plain_pct(value: float | None) -> str:
    return "n/a" if value is None or not math.isfinite(value) else f"{100 * value:.1f}"


def number(value: float, digits: int = 1) -> str:
    return "n/a" if value is None or not math.isfinite(value) else f"{value:.{digits}f}"


def images_note(n_per_cell: int, n_clean: int | None = None) -> str:
    clean = "" if n_clean in (None, n_per_cell) else (
        f" The clean figures are on {n_clean} test images, the corrupted cells' images among them.")
    return (f"Percent, [95% interval]; n = {n_per_cell} test images per corrupted cell ({n_per_cell // 10} per "
            f"class), the same images in every cell.{clean}")


def points(fig: dict | None) -> str:
    """A paired difference in percentage points with its interval, e.g. '+3.1 [+1.9, +4.3]'."""
    if not fig:
        return "n/a"
    low, high = fig["ci95"]
    return f"{100 * fig['value']:+.1f} [{100 * low:+.1f}, {100 * high:+.1f}]"


def difference_table(models: dict[str, dict], n_per_cell: int, n_clean: int | None, baseline: str) -> Table | None:
    differences = {m: s["difference_to_baseline"] for m, s in models.items() if s.get("difference_to_baseline")}
    if not differences:
        return None
    with_cbar = any(d.get("cbar_mean") for d in differences.values())
    rows = [[m, points(d["clean"]), points(d["benchmark_mean"]), points(d["extra_mean"]),
             *([points(d.get("cbar_mean"))] if with_cbar else [])]
            for m, d in differences.items()]
    return Table("difference", f"Paired difference to {baseline} (percentage points)",
                 ["model", "clean", "15 benchmark corruptions", "4 unseen corruptions",
                  *([CBAR_COLUMN] if with_cbar else [])], rows,
                 f"Accuracy of the model minus that of {baseline} on the same test images, [95% interval]: a t "
                 "interval over the per-image differences (paired), which is far tighter than either model's own "
                 "interval. An interval that excludes 0 is a resolved difference. "
                 + images_note(n_per_cell, n_clean))


def difference_per_corruption_table(models: dict[str, dict], n_per_cell: int, baseline: str) -> Table | None:
    differences = {m: s["difference_to_baseline"] for m, s in models.items() if s.get("difference_to_baseline")}
    if not differences:
        return None
    corruptions = list(next(iter(differences.values()))["per_corruption"])
    rows = [[c, family_of(c), *[points(d["per_corruption"].get(c)) for d in differences.values()]]
            for c in corruptions]
    return Table("difference-per-corruption", f"Paired difference to {baseline} per corruption (points, mean over "
                 "the 5 severities)", ["corruption", "family", *differences], rows, images_note(n_per_cell))


def summary_table(models: dict[str, dict], n_per_cell: int, baseline: str, n_clean: int | None = None) -> Table:
    with_cbar = any(s.get("cbar_mean") for s in models.values())
    rows = [[m, pct(s["clean"]), pct(s["benchmark_mean"]), pct(s["extra_mean"]),
             *([pct(s.get("cbar_mean"))] if with_cbar else []), pct(s["mce"]),
             pct(s["relative_mce"]), pct(s["unseen_mce"]), f"{s['failed_requests']} / {s['requests']}"]
            for m, s in models.items()]
    return Table("summary", "Accuracy under corruption: summary",
                 ["model", "clean", "15 benchmark corruptions", "4 unseen corruptions",
                  *([CBAR_COLUMN] if with_cbar else []), f"mCE (vs {baseline})",
                  "relative mCE", "unseen mCE", "failed / requests"], rows,
                 images_note(n_per_cell, n_clean) + " Means over corruptions x 5 severities; their interval treats the "
                 "test images as the units. mCE: the errors summed over severities, divided by the baseline's, "
                 "averaged over the corruptions (Hendrycks & Dietterich, 2019); relative mCE does the same with "
                 "the accuracy lost relative to clean images; its interval is 'unbounded' when the baseline "
                 "loses too little accuracy to divide by reliably. Intervals of the CE figures: paired bootstrap over "
                 "the test images. A failed request counts as a wrong answer.")


def study_corrupted_table(models: dict[str, dict], n_per_cell: int) -> Table:
    rows = [[label, name, trained, head, pct(models[name]["benchmark_mean"]) if name in models else "not measured"]
            for label, name, trained, head in STUDY_MODELS]
    return Table("study-corrupted", "Original study 1: accuracy on corrupted test images",
                 ["", "model", "trained on", "classifier", "corrupted test accuracy"], rows,
                 images_note(n_per_cell) + " Corrupted test: the 15 benchmark corruptions x 5 severities, "
                 "through the HTTP endpoints.")


def _training_cells(outputs: TrainingOutputs | None, test_key: str, val_key: str) -> list[str]:
    if outputs is None or not outputs.final:
        return ["n/a", "n/a"]
    return [plain_pct(outputs.final.get(test_key)), plain_pct(outputs.final.get(val_key))]


def study_train_test_table(models: dict[str, dict], training: dict[str, TrainingOutputs], n_per_cell: int,
                           n_clean: int | None = None) -> Table:
    rows = []
    for family, clean_model, corrupted_model in STUDY_PAIRS:
        for setting, model, key, test_key, val_key in (
            ("train clean / test clean", clean_model, "clean", "test_accuracy", "val_accuracy"),
            ("train clean / test corrupted", clean_model, "benchmark_mean", "test_corrupted_accuracy",
             "val_corrupted_accuracy"),
            ("train corrupted / test corrupted", corrupted_model, "benchmark_mean", "test_corrupted_accuracy",
             "val_corrupted_accuracy"),
        ):
            served = pct(models[model][key]) if model in models else "not measured"
            rows.append([family, setting, model, served, *_training_cells(training.get(model), test_key, val_key)])
    n_val = next((t.final.get("n_val") for t in training.values() if t.final.get("n_val")), None)
    n_test = next((t.final.get("n_test") for t in training.values() if t.final.get("n_test")), None)
    return Table("study-train-test", "Original study 2: training and test distributions",
                 ["classifier", "setting", "model", "test (served)", "test (end of training)",
                  "validation (end of training)"], rows,
                 images_note(n_per_cell, n_clean) + " 'end of training' columns come from "
                 f"artifacts/<model>/train/metrics.json, scored in-process: test on {n_test or '?'} test images, "
                 f"validation on {n_val or '?'} held-out training images never trained on; on corrupted rows both "
                 "are the same images under one random benchmark corruption and severity each.")


def per_corruption_table(models: dict[str, dict], n_per_cell: int) -> Table:
    names = list(models)
    corruptions = list(next(iter(models.values()))["per_corruption"]) if models else []
    rows = []
    for c in corruptions:
        cells = [pct(models[m]["per_corruption"][c]["accuracy"]) for m in names]
        rows.append([c, family_of(c), *cells])
    return Table("per-corruption", "Accuracy per corruption (mean over the 5 severities)", ["corruption", "family",
                 *names], rows, images_note(n_per_cell))


def corruption_error_table(models: dict[str, dict], n_per_cell: int, baseline: str) -> Table:
    names = list(models)
    corruptions = list(next(iter(models.values()))["per_corruption"]) if models else []
    rows = []
    for c in corruptions:
        cells = [f"{pct(models[m]['per_corruption'][c]['ce'], 0)} / {pct(models[m]['per_corruption'][c]['relative_ce'], 0)}"
                 for m in names]
        rows.append([c, "benchmark" if c in BENCHMARK_CORRUPTIONS else "C-bar" if c in CBAR_CORRUPTIONS else "unseen",
                     *cells])
    return Table("corruption-error", f"Corruption error (CE / relative CE) per corruption, against {baseline}",
                 ["corruption", "set", *names], rows,
                 f"Percent [95% paired bootstrap interval]; 100 = as many errors as {baseline}. Relative CE: n/a where "
                 f"the baseline lost no accuracy to a corruption (undefined), 'not estimable at this n' where it lost so little that "
                 f"the loss's own interval reaches 0. n = {n_per_cell} per cell.")


def per_severity_table(models: dict[str, dict], n_per_cell: int, n_clean: int | None = None) -> Table:
    names = list(models)
    severities = list(next(iter(models.values()))["per_severity"]) if models else []
    rows = [["0 (clean)", *[pct(models[m]["clean"]) for m in names]]]
    rows += [[s, *[pct(models[m]["per_severity"][s]) for m in names]] for s in severities]
    return Table("per-severity", "Accuracy per severity (mean over the 15 benchmark corruptions)", ["severity", *names],
                 rows, images_note(n_per_cell, n_clean))


def latency_table(rows: list[LatencyRow]) -> Table:
    body = [[r.model, r.protocol if r.protocol == "predictions" else f"{r.protocol} x{r.images_per_request}",
             str(r.users), number(r.in_flight), number(r.requests_per_s), number(r.p50_ms), number(r.p95_ms),
             number(r.p99_ms), f"{r.failures} / {r.requests}", f"{number(r.p50_ratio)}x / {number(r.p99_ratio)}x",
             f"{number(100 * r.throughput_ratio, 0)}%"] for r in rows]
    return Table("latency", "Latency and throughput through HTTP (Locust, closed workload)",
                 ["model", "protocol", "users", "in flight", "requests/s", "p50 ms", "p95 ms", "p99 ms", "failures / requests",
                  "p50 / p99 vs onnxruntime", "throughput vs onnxruntime"], body,
                 "Users send their next request as soon as the answer arrives, so latency only means something next "
                 "to the concurrency: 'in flight' = requests/s x mean latency (Little's law). Ratios: served latency "
                 "over one onnxruntime call on as many images as a request carries; served images/s over "
                 "onnxruntime's best images/s. "
                 "Locust and the server share this machine's CPU.")


def onnx_baseline_table(baselines: dict[str, list[dict]]) -> Table:
    rows = [[model, str(r["batch_size"]), number(r["p50_ms"], 2), number(r["p95_ms"], 2), number(r["p99_ms"], 2),
             number(r["images_per_s"], 0), str(r["calls"])] for model, results in baselines.items() for r in results]
    return Table("onnxruntime", "Raw onnxruntime in-process (the ratios' baseline)",
                 ["model", "batch", "p50 ms", "p95 ms", "p99 ms", "images/s", "calls"], rows,
                 "One fresh process per model, one thread per core, random uint8 images; embedders include the kNN "
                 "vote over the gallery, as the handler does. No HTTP, image decoding or JSON.")


def failures_table(models: dict[str, dict], failure_kinds: dict[str, dict]) -> Table | None:
    rows = [[f"accuracy: {m}", kind, str(count)] for m, s in models.items()
            for kind, count in (s.get("failures_by_status") or {}).items()]
    rows += [[f"latency: {stage}", kind, str(count)] for stage, kinds in failure_kinds.items()
             for kind, count in kinds.items()]
    if not rows:
        return None
    return Table("failures", "Failed requests", ["where", "failure", "count"], rows,
                 "Connection failures were retried before they count; answers (4xx, 5xx) never are.")


def model_files_table(model_files: dict[str, dict], training: dict[str, TrainingOutputs]) -> Table:
    rows = []
    for model, record in model_files.items():
        check = {True: "matches", False: "DIFFERS", None: "not found"}[record.get("onnx_matches_meta")]
        changed = " (changed since the run)" if training.get(model) and training[model].changed_since_run else ""
        rows.append([model, record.get("kind", "?"), (record.get("onnx_sha256") or "n/a") + changed,
                     check, record.get("mar_sha256") or "n/a"])
    return Table("model-files", "Model files measured", ["model", "kind", "model.onnx sha256 (meta.json)",
                 "file vs meta.json", "TorchServe archive sha256"], rows)


def run_table(summary: dict) -> Table:
    run = summary.get("run", {})
    hardware = run.get("hardware", {})
    rows = [["command", run.get("command", "")], ["git commit", run.get("git_commit", "")],
            ["finished", run.get("finished_at", "")], ["wall time", f"{run.get('wall_seconds', 'n/a')} s"],
            ["profile", str(summary.get("profile", ""))], ["endpoint", str(summary.get("url", ""))],
            ["data", f"{summary.get('data_source', '')} ({summary.get('data_source_kind', '')})"],
            ["corrupted images", str(summary.get("accuracy", {}).get("cifar10c", "not measured"))]]
    rows += [[f"time: {part}", f"{seconds} s"] for part, seconds in summary.get("seconds", {}).items()]
    rows += [[key, str(value)] for key, value in hardware.items()]
    return Table("run", "Hardware, software and commands", ["", ""], rows)
