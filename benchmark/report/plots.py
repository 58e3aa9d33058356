"""The report's plots, as PNG files: accuracy vs severity, the corruption x model heatmap, the
reliability diagram and ECE vs severity, latency percentiles and throughput vs concurrency. Each
function returns False when the run has no data for its plot (then the report leaves it out)."""

from __future__ import annotations

import math
import zlib
from collections import defaultdict
from pathlib import Path

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

from robustcifar.model_specs import MODEL_SPECS

from ..accuracy.families import FAMILIES
from ..accuracy.outcomes import CLEAN
from ..load.latency import LatencyRow

DPI = 110


def model_colour(model: str):
    """Ours in fixed colours; any other model in one of the rest, the same in every run (crc32, not
    hash(), which Python salts per process)."""
    ours = list(MODEL_SPECS)
    spare = 10 - len(ours)
    index = ours.index(model) if model in ours else len(ours) + zlib.crc32(model.encode()) % spare
    return plt.get_cmap("tab10")(index)


def _save(fig, path: Path) -> bool:
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=DPI, bbox_inches="tight")
    plt.close(fig)
    return True


def _accuracy_table(rows: list[dict]) -> tuple[list[str], dict]:
    """-> models in run order, {(model, corruption, severity): row}."""
    models = list(dict.fromkeys(r["model"] for r in rows))
    return models, {(r["model"], r["corruption"], r["severity"]): r for r in rows}


def _severities(rows: list[dict]) -> list[int]:
    return sorted({r["severity"] for r in rows if r["corruption"] != CLEAN})


def _family_panels(rows: list[dict], path: Path, key: str, ylabel: str, title: str, top: float | None,
                   legend: str) -> bool:
    """One panel per corruption family, one line per model: `key` (a fraction, shown in %) from clean
    (severity 0) to severity 5, averaged over the family's corruptions; cells without a finite value
    are left out."""
    models = list(dict.fromkeys(r["model"] for r in rows))
    table = {(r["model"], r["corruption"], r["severity"]): r for r in rows}
    present = {r["corruption"] for r in rows}
    families = {f: [c for c in names if c in present] for f, names in FAMILIES.items()}
    families = {f: names for f, names in families.items() if names}
    if not families or not models:
        return False
    severities = _severities(rows)
    fig, axes = plt.subplots(1, len(families), figsize=(3.3 * len(families), 3.4), sharey=True, squeeze=False)
    for ax, (family, names) in zip(axes[0], families.items()):
        for model in models:
            xs, ys = [], []
            clean = table.get((model, CLEAN, 0))
            if clean is not None and math.isfinite(clean[key]):
                xs, ys = [0], [100 * clean[key]]
            for s in severities:
                values = [table[(model, c, s)][key] for c in names if (model, c, s) in table]
                if values and all(math.isfinite(v) for v in values):
                    xs.append(s)
                    ys.append(100 * float(np.mean(values)))
            if xs:
                ax.plot(xs, ys, marker="o", markersize=3, color=model_colour(model), label=model)
        ax.set_title(f"{family} ({len(names)})", fontsize=10)
        ax.set_xlabel("severity (0 = clean)")
        ax.set_xticks([0, *severities])
        ax.grid(alpha=0.3)
    axes[0][0].set_ylabel(ylabel)
    axes[0][0].set_ylim(0, top)
    axes[0][-1].legend(fontsize=8, loc=legend)
    fig.suptitle(title, fontsize=11)
    return _save(fig, path)


def accuracy_by_family(rows: list[dict], path: Path) -> bool:
    return _family_panels(rows, path, "accuracy", "accuracy %",
                          "Accuracy vs severity per corruption family (mean over the family's corruptions)", 100,
                          "upper right")


def accuracy_by_corruption(rows: list[dict], path: Path) -> bool:
    """Small multiples: one panel per corruption, one line per model with its 95% band."""
    models, table = _accuracy_table(rows)
    corruptions = list(dict.fromkeys(r["corruption"] for r in rows if r["corruption"] != CLEAN))
    if not corruptions:
        return False
    severities = _severities(rows)
    columns = 5
    lines = math.ceil(len(corruptions) / columns)
    fig, axes = plt.subplots(lines, columns, figsize=(3.0 * columns, 2.4 * lines), sharex=True, sharey=True,
                             squeeze=False)
    for ax, corruption in zip(axes.flat, corruptions):
        for model in models:
            cells = [table.get((model, CLEAN, 0))] + [table[(model, corruption, s)] for s in severities]
            xs = [0, *severities] if cells[0] is not None else list(severities)
            cells = [c for c in cells if c is not None]
            acc = [100 * c["accuracy"] for c in cells]
            ax.plot(xs, acc, color=model_colour(model), label=model, linewidth=1.2)
            ax.fill_between(xs, [100 * c["ci95_low"] for c in cells], [100 * c["ci95_high"] for c in cells],
                            color=model_colour(model), alpha=0.12, linewidth=0)
        ax.set_title(corruption, fontsize=9)
        ax.set_xticks([0, *severities])
        ax.set_ylim(0, 100)
        ax.grid(alpha=0.3)
    spare = list(axes.flat)[len(corruptions):]
    for ax in spare:
        ax.axis("off")
    handles, labels = axes[0][0].get_legend_handles_labels()
    (spare[-1] if spare else fig).legend(handles, labels, loc="center", fontsize=9)
    fig.supxlabel("severity (0 = clean)")
    fig.supylabel("accuracy % (band: 95% interval)")
    return _save(fig, path)


def corruption_heatmap(rows: list[dict], path: Path) -> bool:
    """Corruptions (and clean) x models: accuracy % averaged over the severities."""
    models, table = _accuracy_table(rows)
    corruptions = list(dict.fromkeys(r["corruption"] for r in rows))
    if not models or not corruptions:
        return False
    values = np.array([[100 * np.mean([r["accuracy"] for (m, c, _), r in table.items() if m == model and c == name])
                        for model in models] for name in corruptions])
    fig, ax = plt.subplots(figsize=(2.2 + 1.5 * len(models), 0.8 + 0.36 * len(corruptions)))
    image = ax.imshow(values, cmap="viridis", vmin=0, vmax=100, aspect="auto")
    ax.set_xticks(range(len(models)), models, rotation=20, ha="right")
    ax.set_yticks(range(len(corruptions)), corruptions)
    for i in range(len(corruptions)):
        for j in range(len(models)):
            ax.text(j, i, f"{values[i, j]:.0f}", ha="center", va="center", fontsize=8,
                    color="white" if values[i, j] < 60 else "black")
    fig.colorbar(image, ax=ax, label="accuracy % (mean over severities)")
    ax.set_title("Accuracy per corruption and model")
    return _save(fig, path)


def _plain_log_axis(ax, values: list[float]) -> None:
    """A log y axis that shows plain numbers (20, 50, 100) and spans every value, reference lines included."""
    finite = [v for v in values if np.isfinite(v) and v > 0]
    ax.set_yscale("log")
    if finite:
        ax.set_ylim(min(finite) / 1.3, max(finite) * 1.3)
    ax.yaxis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    ax.yaxis.set_minor_formatter(NullFormatter())


def series_name(row: LatencyRow) -> str:
    """A model in one protocol: its name for /predictions, with the protocol and batch for v2."""
    return row.model if row.protocol == "predictions" else f"{row.model} ({row.protocol} x{row.images_per_request})"


def _by_model(rows: list[LatencyRow]) -> dict[str, list[LatencyRow]]:
    grouped = defaultdict(list)
    for row in rows:
        grouped[series_name(row)].append(row)
    return {m: sorted(r, key=lambda row: row.users) for m, r in grouped.items()}


def latency_percentiles(rows: list[LatencyRow], path: Path) -> bool:
    """One panel per model: p50/p95/p99 latency vs Locust users, and one onnxruntime call (batch 1)."""
    grouped = _by_model(rows)
    if not grouped:
        return False
    fig, axes = plt.subplots(1, len(grouped), figsize=(4.2 * len(grouped), 3.6), squeeze=False)
    for ax, (model, series) in zip(axes[0], grouped.items()):
        users = [r.users for r in series]
        for attr, style, label in (("p50_ms", "-", "p50"), ("p95_ms", "--", "p95"), ("p99_ms", ":", "p99")):
            ax.plot(users, [getattr(r, attr) for r in series], style, marker="o", markersize=3,
                    color=model_colour(series[0].model), label=label)
        ax.axhline(series[0].ort_p50_ms, color="grey", linewidth=1,
                   label=f"onnxruntime p50, {series[0].images_per_request} image(s)")
        ax.set_xscale("log", base=2)
        _plain_log_axis(ax, [series[0].ort_p50_ms, *(getattr(r, a) for r in series for a in ("p50_ms", "p99_ms"))])
        ax.set_xticks(users, [str(u) for u in users])
        ax.set_xlabel("Locust users (concurrency)")
        ax.set_title(model, fontsize=10)
        ax.grid(alpha=0.3, which="both")
        ax.legend(fontsize=7)
    axes[0][0].set_ylabel("latency ms (log)")
    fig.suptitle("Latency percentiles vs concurrency", fontsize=11)
    return _save(fig, path)


def throughput(rows: list[LatencyRow], path: Path) -> bool:
    """Images/s vs Locust users, one line per model and protocol (dotted: v2 batches); dashed: onnxruntime's
    best images/s."""
    grouped = _by_model(rows)
    if not grouped:
        return False
    fig, ax = plt.subplots(figsize=(6.5, 4))
    drawn = set()
    for name, series in grouped.items():
        users, model = [r.users for r in series], series[0].model
        style = "-" if series[0].protocol == "predictions" else ":"
        ax.plot(users, [r.requests_per_s * r.images_per_request for r in series], style, marker="o",
                color=model_colour(model), label=name)
        if model not in drawn:
            drawn.add(model)
            ax.axhline(series[0].ort_images_per_s, linestyle="--", linewidth=1, color=model_colour(model),
                       label=f"{model}: onnxruntime in-process")
    all_users = sorted({r.users for r in rows})
    ax.set_xscale("log", base=2)
    _plain_log_axis(ax, [v for r in rows for v in (r.requests_per_s * r.images_per_request, r.ort_images_per_s)])
    ax.set_xticks(all_users, [str(u) for u in all_users])
    ax.set_xlabel("Locust users (concurrency)")
    ax.set_ylabel("images/s (log)")
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=7)
    ax.set_title("Throughput vs concurrency")
    return _save(fig, path)


def reliability_diagram(rows: list[dict], path: Path) -> bool:
    """One panel per model: accuracy per confidence bin, clean next to severity 5; the diagonal is perfect
    calibration, and the bars' shade how many answers fell in the bin."""
    models = list(dict.fromkeys(r["model"] for r in rows))
    groups = list(dict.fromkeys(r["cells"] for r in rows))
    if not models:
        return False
    fig, axes = plt.subplots(1, len(models), figsize=(3.2 * len(models), 3.4), sharey=True, squeeze=False)
    styles = dict(zip(groups, (("tab:blue", 0.0), ("tab:red", 0.5))))
    for ax, model in zip(axes[0], models):
        ax.plot([0, 1], [0, 1], color="grey", linewidth=1, linestyle="--")
        for group in groups:
            bins = [r for r in rows if r["model"] == model and r["cells"] == group and r["count"] > 0]
            if not bins:
                continue
            colour, offset = styles.get(group, ("tab:green", 0.25))
            total = sum(r["count"] for r in bins)
            width = (bins[0]["bin_high"] - bins[0]["bin_low"]) / 2
            for r in bins:
                ax.bar(r["bin_low"] + offset * 2 * width, r["accuracy"], width=width, align="edge", color=colour,
                       alpha=0.25 + 0.75 * min(1.0, 5 * r["count"] / total), linewidth=0)
            ax.plot([], [], color=colour, linewidth=6, label=f"{group} ({total} answers)")
        ax.set_title(model, fontsize=10)
        ax.set_xlim(0, 1)
        ax.set_ylim(0, 1)
        ax.set_xlabel("confidence")
        ax.grid(alpha=0.3)
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=7, loc="upper left")
        else:
            ax.text(0.5, 0.5, "no answers", ha="center", va="center", transform=ax.transAxes)
    axes[0][0].set_ylabel("accuracy in the bin")
    fig.suptitle("Reliability: accuracy per confidence bin (15 bins), clean vs the benchmark corruptions at "
                 "severity 5", fontsize=11)
    return _save(fig, path)


def ece_by_family(rows: list[dict], path: Path) -> bool:
    """From calibration.csv: the per-cell ECE, averaged over each family's corruptions."""
    return _family_panels(rows, path, "ece", "ECE % (15 bins)",
                          "Calibration error vs severity per corruption family (mean over the family's corruptions)",
                          None, "upper left")


PLOTS = (
    ("accuracy_by_family.png", "Accuracy vs severity per corruption family", accuracy_by_family, "accuracy"),
    ("corruption_heatmap.png", "Corruption x model heatmap", corruption_heatmap, "accuracy"),
    ("accuracy_by_corruption.png", "Accuracy vs severity for every corruption", accuracy_by_corruption, "accuracy"),
    ("reliability.png", "Reliability diagram, clean vs severity 5", reliability_diagram, "reliability"),
    ("ece_by_family.png", "Calibration error vs severity per corruption family", ece_by_family, "calibration"),
    ("latency_percentiles.png", "Latency percentiles vs concurrency", latency_percentiles, "latency"),
    ("throughput.png", "Throughput vs concurrency", throughput, "latency"),
)


def draw_all(data: dict[str, list], folder: Path) -> list[tuple[str, str]]:
    """Draw every plot the run has data for into folder/plots; `data` maps each source of PLOTS
    ("accuracy", "calibration", "reliability", "latency") to its rows. -> [(relative path, title)]."""
    matplotlib.use("Agg")  # files only; never needs a display
    drawn = []
    for name, title, draw, source in PLOTS:
        rows = data.get(source) or []
        if rows and draw(rows, folder / "plots" / name):
            drawn.append((f"plots/{name}", title))
    return drawn
