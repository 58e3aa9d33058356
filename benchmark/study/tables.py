"""The study section as markdown, built from a Study (analysis.py) alone: what the README and
results/<study>/study.md show, so no study number is typed by hand."""

from __future__ import annotations

from .analysis import AUGMIX_PAIRS, CBAR, COMPARISONS, FAMILIES, FDR_LEVEL, PAIRS, Study
from .intervals import Interval, fdr_adjusted, seed_image_interval

# The original studies' figures (../shared/seeds/003_557d3cd6312f3611.txt and 000_7a7bb921270f7063.txt)
ORIGINAL_STUDY_2 = {
    "ce": {"test": (54, 41, 54), "validation": (55, 43, 55)},
    "angular": {"test": (59, 45, 57), "validation": (59, 47, 58)},
}
ORIGINAL_STUDY_1 = {"ce_clean": 18.78, "ce_corrupted": 31.35, "angular": 46}
ROW_NAMES = ("train clean / test clean", "train clean / test corrupted", "train corrupted / test corrupted")


def pct(interval: Interval | None) -> str:
    if interval is None:
        return "not measured"
    return f"{100 * interval.value:.1f} [{100 * interval.low:.1f}–{100 * interval.high:.1f}]"


def points(interval: Interval | None) -> str:
    if interval is None:
        return "not measured"
    return f"{100 * interval.value:+.1f} [{100 * interval.low:+.1f}, {100 * interval.high:+.1f}]"


def seeds_note(interval: Interval) -> str:
    return "" if interval.seed_variance_counted else " (1 seed)"


def verdict(interval: Interval | None, original: float) -> str:
    if interval is None:
        return "not measured"
    low = 100 * interval.low
    return f"met ({low:.1f} > {original:g})" if low > original else f"missed by {original - low:.1f}"


def study_2(study: Study, loss: str) -> list[str]:
    clean_model, corrupted_model = PAIRS[loss]
    rows = [(ROW_NAMES[0], clean_model, "clean", "validation"),
            (ROW_NAMES[1], clean_model, "15 benchmark", "validation, corrupted"),
            (ROW_NAMES[2], corrupted_model, "15 benchmark", "validation, corrupted")]
    original = ORIGINAL_STUDY_2[loss]
    lines = [("| setting | model | seeds | test, ours | test, original | lower bound vs original | "
             "validation, ours | validation, original |"), "|---|---|---|---|---|---|---|---|"]
    for i, (name, model, test_what, val_what) in enumerate(rows):
        group = study.group(model)
        if group is None:
            lines.append(f"| {name} | `{model}` | 0 | not measured | {original['test'][i]} | | | "
                         f"{original['validation'][i]} |")
            continue
        test, val = group.figure(test_what), group.figure(val_what)
        lines.append(f"| {name} | `{model}` | {len(group.runs)} | {pct(test)} | {original['test'][i]} | "
                     f"{verdict(test, original['test'][i])} | {pct(val)} | {original['validation'][i]} |")
    for epochs in study.budgets(corrupted_model):
        if epochs == study.budget:
            continue
        group = study.group(corrupted_model, epochs)
        test, val = group.figure("15 benchmark"), group.figure("validation, corrupted")
        lines.append(f"| {ROW_NAMES[2]}, {epochs} epochs | `{corrupted_model}` | {len(group.runs)} | "
                     f"{pct(test)}{seeds_note(test)} | {original['test'][2]} | {verdict(test, original['test'][2])} | "
                     f"{pct(val)} | {original['validation'][2]} |")
    return lines


def study_1(study: Study) -> list[str]:
    lines = ["| model | seeds | accuracy on corrupted test images, ours | original | lower bound vs original |",
             "|---|---|---|---|---|"]
    for model, original in ORIGINAL_STUDY_1.items():
        group = study.group(model)
        figure = group.figure("15 benchmark") if group else None
        lines.append(f"| `{model}` | {len(group.runs) if group else 0} | {pct(figure)} | {original:g} | "
                     f"{verdict(figure, original)} |")
    return lines


def models_table(study: Study) -> list[str]:
    columns = ["clean", "clean, same images", *FAMILIES]
    lines = [("| model | seeds | clean, every image | clean, the cells' images | drop to 15 benchmark | 15 benchmark | "
             "4 unseen |"), "|---|---|---|---|---|---|---|"]
    for model in study.models():
        group = study.group(model)
        figures = {c: group.figure(c) for c in columns}
        drop = study_difference_within(group)
        lines.append(f"| `{model}` | {len(group.runs)} | {pct(figures['clean'])} | {pct(figures['clean, same images'])} "
                     f"| {points(drop)} | {pct(figures['15 benchmark'])} | {pct(figures['4 unseen'])} |")
    return lines


def study_difference_within(group) -> Interval:
    """Accuracy on the 15 benchmark corruptions minus clean accuracy, on the same images and runs."""
    return seed_image_interval(group.values("15 benchmark") - group.values("clean, same images"))


def comparisons_table(study: Study) -> list[str]:
    lines = ["| comparison | question | clean, every image | 15 benchmark | 4 unseen |", "|---|---|---|---|---|"]
    for model, other, question in COMPARISONS:
        cells = [points(study.difference(model, other, what)) for what in ("clean", *FAMILIES)]
        lines.append(f"| `{model}` − `{other}` | {question} | " + " | ".join(cells) + " |")
    return lines


def per_corruption_table(study: Study) -> list[str]:
    """Every comparison on every corruption, the p-values adjusted together (Benjamini-Hochberg)."""
    found = [(model, other, c, d) for model, other, _ in COMPARISONS for c, d, _ in study.per_corruption(model, other)]
    adjusted = fdr_adjusted([d.p_value for *_, d in found])
    by = {(model, other, c): (d, q) for (model, other, c, d), q in zip(found, adjusted)}
    names = [c for family in FAMILIES.values() for c in family]
    header = "| corruption | " + " | ".join(f"`{m}` − `{o}`" for m, o, _ in COMPARISONS) + " |"
    lines = [header, "|---|" + "---|" * len(COMPARISONS)]
    for c in names:
        cells = []
        for model, other, _ in COMPARISONS:
            if (model, other, c) not in by:
                cells.append("")
                continue
            d, q = by[(model, other, c)]
            cells.append(points(d) + (" **\\***" if q < FDR_LEVEL else ""))
        unseen = " (unseen)" if c in FAMILIES["4 unseen"] else ""
        lines.append(f"| {c}{unseen} | " + " | ".join(cells) + " |")
    survivors = sum(q < FDR_LEVEL for q in adjusted)
    resolved = sum(d.excludes_zero() for *_, d in found)
    lines.append("")
    lines.append(f"<sub>{resolved} of {len(found)} intervals exclude 0; **\\*** marks the {survivors} that stay "
                 f"resolved after the Benjamini-Hochberg adjustment over all {len(found)} (false-discovery rate "
                 f"{FDR_LEVEL:.0%}).</sub>")
    return lines


def int8_table(study: Study) -> list[str]:
    """The paired cost of int8 (int8 copy − its float32 model), per family, with a verdict per model; the
    per-corruption differences adjusted together (Benjamini-Hochberg), as the study's comparisons are."""
    pairs = study.int8_pairs()
    if not pairs:
        return ["No int8 copy has been measured (python -m export quantize; benchmark `<model>_int8`)."]
    lines = ["| model | seeds | clean, every image | 15 benchmark | 4 unseen | corruptions where int8 costs (FDR 5%) |",
             "|---|---|---|---|---|---|"]
    found = [(q, f, c, d) for q, f in pairs for c, d, _ in study.per_corruption(q, f)]
    adjusted = fdr_adjusted([d.p_value for *_, d in found])
    for q, f in pairs:
        figures = [study.difference(q, f, what) for what in ("clean", *FAMILIES)]
        hurt = [f"{c} ({points(d)})" for (qq, _, c, d), p in zip(found, adjusted) if qq == q and p < FDR_LEVEL]
        lines.append(f"| `{q}` − `{f}` | {len(study.group(q).runs)} | " + " | ".join(points(x) for x in figures)
                     + f" | {', '.join(hurt) or 'none resolved'} |")
    return lines


def generalization_tables(study: Study) -> list[str]:
    """CIFAR-10-C-bar, which no model here trained on: each model's accuracy and its paired difference to
    ce_clean; then each AugMix model against its *_corrupted twin on the corruptions the twin trained on
    (fit) and on those neither did (generalization), with the verdict."""
    models = study.cbar_models()
    if not models:
        return [("No run has been measured on CIFAR-10-C-bar yet (`python -m benchmark --family cbar`, then "
                "`python -m benchmark.study collect`).")]
    lines = ["| model | seeds | C-bar | − `ce_clean` on C-bar | − `ce_clean` on 15 benchmark | − `ce_clean` on 4 unseen |",
             "|---|---|---|---|---|---|"]
    baseline = "ce_clean" if "ce_clean" in models else None
    for model in models:
        group = study.group(model)
        diffs = ([study.difference(model, baseline, what) for what in (CBAR, *FAMILIES)]
                 if baseline and model != baseline else [None, None, None])
        lines.append(f"| `{model}` | {len(group.runs)} | {pct(group.figure(CBAR))}{seeds_note(group.figure(CBAR))} | "
                     + " | ".join(points(d) if d else "" for d in diffs) + " |")
    pairs = [(a, b) for a, b in AUGMIX_PAIRS if a in models and b in models]
    lines += ["", ("**Fit or generalization** (AugMix model − its `*_corrupted` twin, percentage points: the twin "
              "trained on the 15, neither on the 4 unseen or C-bar)"), ""]
    if not pairs:
        return lines + ["No AugMix model and its `*_corrupted` twin have both been measured on CIFAR-10-C-bar yet."]
    lines += ["| comparison | 15 benchmark (fit) | 4 unseen | C-bar | verdict |", "|---|---|---|---|---|"]
    for model, twin in pairs:
        fit, unseen, cbar = (study.difference(model, twin, what) for what in ("15 benchmark", "4 unseen", CBAR))
        lines.append(f"| `{model}` − `{twin}` | {points(fit)} | {points(unseen)} | {points(cbar)} | "
                     f"{generalization_verdict(fit, cbar)} |")
    return lines


def generalization_verdict(fit: Interval, cbar: Interval) -> str:
    def side(d: Interval) -> str:
        return "ahead" if d.low > 0 else "behind" if d.high < 0 else "not resolved"

    return f"AugMix {side(fit)} on the trained-for corruptions, {side(cbar)} on C-bar"


def budget_table(study: Study) -> list[str]:
    lines = ["| loss | epochs | seeds | gain on clean | gain on 15 benchmark | gain on 4 unseen |",
             "|---|---|---|---|---|---|"]
    for loss, (clean_model, corrupted_model) in PAIRS.items():
        for epochs in sorted(set(study.budgets(clean_model)) & set(study.budgets(corrupted_model))):
            figures = [study.difference(corrupted_model, clean_model, what, epochs) for what in ("clean", *FAMILIES)]
            seeds = min(len(study.group(m, epochs).runs) for m in (clean_model, corrupted_model))
            lines.append(f"| {loss} | {epochs} | {seeds} | " + " | ".join(points(f) for f in figures) + " |")
    return lines


def budget_verdict(study: Study) -> list[str]:
    lines = []
    for loss, (clean_model, corrupted_model) in PAIRS.items():
        budgets = sorted(set(study.budgets(clean_model)) & set(study.budgets(corrupted_model)))
        if len(budgets) < 2:
            lines.append(f"- {loss}: measured at {', '.join(map(str, budgets)) or 'no'} epoch budget(s) only")
            continue
        for what in FAMILIES:
            paying = [e for e in budgets if study.difference(corrupted_model, clean_model, what, e).low > 0]
            if paying:
                lines.append(f"- {loss}, {what}: corrupted training pays from {paying[0]} epochs on (its lower "
                             f"bound is above 0 there)")
            else:
                lines.append(f"- {loss}, {what}: no budget up to {budgets[-1]} epochs has its lower bound above 0")
    return lines


def runs_table(study: Study) -> list[str]:
    lines = [("| run | epochs | training images/s | training wall time | benchmark wall time (its run) | CPU | "
             "native bf16 | commit |"), "|---|---|---|---|---|---|---|---|"]
    for group in sorted(study.groups.values(), key=lambda g: (g.model, g.epochs)):
        for run in group.runs:
            t, b = run.meta["training"], run.meta["benchmark"]
            lines.append(f"| `{run.name}` | {t['epochs']} | {t['images_per_second']:.0f} | "
                         f"{t['wall_seconds'] / 60:.1f} min | {b['accuracy_seconds'] / 60:.1f} min "
                         f"({b['models_in_run']} models) | {t['cpu']} | {'yes' if t['cpu_native_bf16'] else 'no'} | "
                         f"{t['git_commit'][:8]} |")
    return lines


def runs_summary(study: Study) -> str:
    """One line: the range of training and benchmark wall times per run, the CPUs, native bf16."""
    runs = [run for group in study.groups.values() for run in group.runs if group.epochs == study.budget]
    if not runs:
        return ""
    train = [run.meta["training"]["wall_seconds"] / 60 for run in runs]
    speed = [run.meta["training"]["images_per_second"] for run in runs]
    bench = [run.meta["benchmark"]["accuracy_seconds"] / run.meta["benchmark"]["models_in_run"] / 60 for run in runs]
    cpus = sorted({run.meta["training"]["cpu"] for run in runs})
    native = sorted({"native bf16" if run.meta["training"]["cpu_native_bf16"] else "no native bf16" for run in runs})
    return (f"At the study budget, a run trained in {min(train):.1f}-{max(train):.1f} min ({min(speed):.0f}-"
            f"{max(speed):.0f} images/s) and was benchmarked in {min(bench):.1f}-{max(bench):.1f} min (its share of "
            f"its benchmark run), on {', '.join(cpus)} ({', '.join(native)}); every run is in the runs table of "
            "results/study-cpu/study.md.")


def section(study: Study, compact: bool = False) -> str:
    """The study section (markdown): everything, or (compact) the README's share of it."""
    n_runs = sum(len(g.runs) for g in study.groups.values())
    first = study.group(study.models()[0]) if study.models() else None
    images = first.grid_index().size if first else 0
    clean = first.values("clean").shape[1] if first else 0
    parts = [
        (f"_{n_runs} runs committed; the study budget is {study.budget} epochs; every corrupted cell holds the same "
        f"{images} class-balanced test images, the clean cell {clean}. Every figure is the mean over the seeds "
        "with a 95% interval over seeds and test images (benchmark/study/intervals.py); a run of one seed has an "
        "interval over the test images only, marked (1 seed)._"),
        "", "**Study 2, cross-entropy** (percent)", "", *study_2(study, "ce"), "",
        "**Study 2, angular loss + kNN** (percent)", "", *study_2(study, "angular"), "",
        "**Study 1, accuracy on corrupted test images** (percent)", "", *study_1(study), "",
        "**The study's comparisons** (percentage points, paired over the test images)", "", *comparisons_table(study),
        "", "**Budget: the gain of corrupted training** (`*_corrupted` − its clean twin, percentage points)", "",
        *budget_table(study), "", *budget_verdict(study), "",
        "**The cost of int8** (an int8 copy − its float32 model, percentage points, paired over the test images)", "",
        *int8_table(study), "",
        "**Corruptions no model trained on: CIFAR-10-C-bar** (percent; differences in percentage points, paired)", "",
        *generalization_tables(study), "", runs_summary(study),
    ]
    if not compact:
        parts += ["", "**Each model** (percent; the drop in points, on the same images)", "", *models_table(study), "",
                  "**Per corruption** (percentage points, mean over the 5 severities)", "", *per_corruption_table(study),
                  "", "**Runs**", "", *runs_table(study)]
    return "\n".join(parts) + "\n"
